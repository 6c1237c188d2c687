using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Distil.Judge;

/// <summary>How many pairs go to the test split: a fraction of all pairs, or a count.</summary>
public readonly record struct TestSize(double? Fraction, long? Count)
{
    /// <summary>The number of pairs the test split aims at, out of <paramref name="pairs"/>.</summary>
    public long TargetOf(long pairs) => Count ?? (long)Math.Round(Fraction!.Value * pairs, MidpointRounding.AwayFromZero);
}

/// <summary>
/// A seeded train/test split grouped by prompt: every pair of a prompt lands in the same split, so no prompt is
/// in both. Each prompt gets a key from SHA-256 of (seed, prompt id); prompts are taken in key order into the
/// test split until it holds at least the target, so the test split is the target plus less than one prompt's
/// pairs. The keys depend only on the seed and the prompt, not on row order, batching or sharding.
/// Memory: one 8-byte key and count per distinct prompt, never the rows.
/// </summary>
public sealed class PromptGroupSplit(long seed)
{
    private readonly Dictionary<ulong, long> _pairsPerPrompt = [];

    public long Pairs { get; private set; }

    /// <summary>The prompt's key; prompts with equal keys are one group (a 64-bit collision only merges two groups).</summary>
    public ulong KeyOf(string? promptId)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes($"{seed}\n{promptId}"), hash);
        return BinaryPrimitives.ReadUInt64BigEndian(hash);
    }

    /// <summary>Counts one pair of the prompt; returns its key.</summary>
    public ulong Add(string? promptId)
    {
        var key = KeyOf(promptId);
        _pairsPerPrompt[key] = _pairsPerPrompt.GetValueOrDefault(key) + 1;
        Pairs++;
        return key;
    }

    /// <summary>The keys of the prompts whose pairs form the test split.</summary>
    /// <exception cref="InvalidDataException">The test split would take every pair, leaving train empty.</exception>
    public IReadOnlySet<ulong> ChooseTest(TestSize size)
    {
        var target = size.TargetOf(Pairs);
        var test = new HashSet<ulong>();
        long taken = 0;
        foreach (var (key, count) in _pairsPerPrompt.OrderBy(p => p.Key))
        {
            if (taken >= target)
            {
                break;
            }

            test.Add(key);
            taken += count;
        }

        if (Pairs > 0 && test.Count == _pairsPerPrompt.Count)
        {
            throw new InvalidDataException(
                $"'test_size' asks for {target} of {Pairs} pairs ({_pairsPerPrompt.Count} prompts): the test split would take every prompt and leave train empty; ask for fewer");
        }

        return test;
    }
}
