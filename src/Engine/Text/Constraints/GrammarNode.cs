namespace Distil.Engine.Text.Constraints;

internal enum GrammarKind : byte
{
    /// <summary>Fixed bytes and values in order: an object with its required properties.</summary>
    Sequence,
    Array,
    String,
    Integer,
    Number,
    /// <summary>One of several fixed JSON texts: enum, const, boolean, null.</summary>
    Literals,
    /// <summary>Alternatives told apart by their first byte.</summary>
    AnyOf,
    /// <summary>A free-form object: any string keys, values of node <see cref="GrammarNode.Child"/>.</summary>
    Map,
}

/// <summary>One part of a value in the compiled grammar; the fields used depend on <see cref="Kind"/>.</summary>
internal sealed class GrammarNode
{
    public required GrammarKind Kind { get; init; }

    /// <summary>The fewest bytes a value of this node can have.</summary>
    public int MinLength { get; set; }

    // Sequence
    public SequenceItem[] Items { get; init; } = [];

    /// <summary>SuffixMin[i]: fewest bytes for items i.. to the end (one extra entry, 0, at the end).</summary>
    public int[] SuffixMin { get; set; } = [];

    // Array and Map: Child is the item/value node; Map's keys are strings of node Key.
    public int Key { get; init; } = -1;

    public int Child { get; init; } = -1;

    public int MinItems { get; init; }

    public int MaxItems { get; init; } = int.MaxValue;

    // String
    public int MinChars { get; init; }

    public int MaxChars { get; init; } = int.MaxValue;

    // Integer
    public IntegerRange? Range { get; init; }

    // Literals
    public LiteralTrie? Literals { get; init; }

    // AnyOf: the alternative node for each possible first byte, -1 for none.
    public int[] Alternatives { get; init; } = [];

    public int[] AlternativeByFirstByte { get; set; } = [];
}

/// <summary>Fixed bytes, or a value of node <see cref="Child"/>.</summary>
internal readonly record struct SequenceItem(byte[]? Literal, int Child);

/// <summary>
/// Where the matcher is inside one node. <see cref="Pos"/> is the phase or item index, <see cref="Count"/> counts
/// items, characters or digits, <see cref="Value"/> holds digits read or a pending UTF-8/escape detail.
/// </summary>
internal struct GrammarFrame(int node, int pos = 0, int count = 0, long value = 0)
{
    public int Node = node;
    public int Pos = pos;
    public int Count = count;
    public long Value = value;
}
