namespace Distil.Engine.Text.Constraints;

/// <summary>A byte trie over fixed JSON texts (enum values, const, true/false/null); node 0 is the root.</summary>
internal sealed class LiteralTrie
{
    private readonly int[] _next;

    public LiteralTrie(IReadOnlyList<byte[]> literals)
    {
        var next = new List<int[]> { NewRow() };
        var terminal = new List<bool> { false };
        foreach (var literal in literals)
        {
            var node = 0;
            foreach (var b in literal)
            {
                if (next[node][b] == 0)
                {
                    next[node][b] = next.Count;
                    next.Add(NewRow());
                    terminal.Add(false);
                }
                node = next[node][b];
            }
            terminal[node] = true;
        }
        _next = next.SelectMany(row => row).ToArray();
        Terminal = terminal.ToArray();
        HasChildren = next.Select(row => row.Any(c => c != 0)).ToArray();
        MinToEnd = new int[next.Count];
        // Children always have larger indices than their parent, so a backward pass sees children first.
        for (var node = next.Count - 1; node >= 0; node--)
        {
            var best = Terminal[node] ? 0 : int.MaxValue;
            foreach (var child in next[node])
            {
                if (child != 0 && MinToEnd[child] != int.MaxValue)
                {
                    best = Math.Min(best, MinToEnd[child] + 1);
                }
            }
            MinToEnd[node] = best;
        }
    }

    public bool[] Terminal { get; }

    public bool[] HasChildren { get; }

    public int[] MinToEnd { get; }

    /// <summary>The child of <paramref name="node"/> by <paramref name="b"/>, or 0 when there is none.</summary>
    public int Next(int node, byte b) => _next[node * 256 + b];

    private static int[] NewRow() => new int[256];
}
