using Distil.Seeding;

namespace Distil.Engine.Building;

/// <summary>
/// Seeded random weights for any decoder the builder writes: each tensor is a pure function of (seed, name),
/// generated in parallel chunks whose SplitMix64 streams start at a hash of (seed, name, chunk index), so the same
/// seed gives the same bytes on any machine and core count and no chunk replays another's numbers.
/// Scales are chosen so that a random model's next token depends on its context (not one token forever).
/// </summary>
public sealed class RandomLlamaWeights(LlamaConfig config, ulong seed) : ILlamaWeights
{
    private const int ChunkSize = 1 << 16;
    private readonly Dictionary<string, long[]> _shapes = LlamaWeightNames.All(config).ToDictionary(x => x.Name, x => x.Shape);

    public string Source => $"seeded random weights (seed {seed})";

    public bool Contains(string name) => _shapes.ContainsKey(name);

    public float[] Read(string name, out long[] shape)
    {
        shape = _shapes.TryGetValue(name, out var s) ? s : throw new KeyNotFoundException(name);
        var count = shape.Aggregate(1L, (a, d) => a * d);
        var data = new float[count];
        var isVector = shape.Length == 1;
        var isBias = isVector && name.EndsWith(".bias", StringComparison.Ordinal);
        var std = isBias ? 0.2 : isVector ? 0.1 : name switch
        {
            // A tied table is also the head: at unit scale the last token's own row dominates the residual stream
            // and the model mostly echoes it, whatever the context; smaller rows let the layers' output decide.
            LlamaWeightNames.Embedding or FalconWeightNames.Embedding => config.TieWordEmbeddings ? 0.25 : 1.0,
            LlamaWeightNames.LmHead => 2.0 / Math.Sqrt(shape[1]),
            _ => 1.0 / Math.Sqrt(shape[1]),
        };
        var center = isVector && !isBias ? 1.0 : 0.0;
        var nameSeed = SplitMix64.Mix(SplitMix64.Mix(seed) ^ Fnv(name));
        var chunks = (int)((count + ChunkSize - 1) / ChunkSize);
        Parallel.For(0, chunks, chunk =>
        {
            // Seeding chunk c at a hash, not at nameSeed + c·γ: consecutive SplitMix64 seeds give streams that are
            // the same sequence shifted by one, so whole rows of one chunk used to reappear in the next.
            var random = new SplitMix64(SplitMix64.Mix(nameSeed ^ SplitMix64.Mix((ulong)chunk + 1)));
            var end = Math.Min(count, (long)(chunk + 1) * ChunkSize);
            for (var i = (long)chunk * ChunkSize; i < end; i++)
            {
                // Uniform on [-sqrt(3), sqrt(3)) has unit variance.
                var u = random.NextDouble();
                data[i] = (float)(center + std * Math.Sqrt(3) * (2 * u - 1));
            }
        });
        return data;
    }

    private static ulong Fnv(string text)
    {
        var hash = 14695981039346656037UL;
        foreach (var ch in text)
        {
            hash = (hash ^ ch) * 1099511628211UL;
        }

        return hash;
    }
}
