using Microsoft.ML.OnnxRuntime;

namespace Distil.Engine.Onnx;

/// <summary>
/// The key/value cache of a batch: for each layer a key and a value tensor [batch, kv_heads, capacity, head_dim]
/// (index 2·layer and 2·layer+1), living where the model runs, whose first <see cref="Length"/> columns are in
/// use. Owns the ORT outputs they came from.
/// </summary>
internal sealed class KvState(IDisposable? owner, OrtValue[] tensors, int batch, int length) : IDisposable
{
    private bool _moved;

    public OrtValue[] Tensors { get; } = tensors;

    public int Batch { get; } = batch;

    /// <summary>Columns in use (the longest row's tokens; a mask for the next step is this plus its new tokens wide).</summary>
    public int Length { get; } = length;

    /// <summary>Columns the tensors have: more than <see cref="Length"/> when the cache was laid out with room to be
    /// written in place (GroupQueryAttention's shared past/present buffer); otherwise equal to it.</summary>
    public int Capacity { get; init; } = length;

    /// <summary>True when a single-token step can write its keys and values into these tensors.</summary>
    public bool HasRoom => Capacity > Length;

    /// <summary>The step's logits output when it produced this cache (owned by the same outputs).</summary>
    public OrtValue? Logits { get; init; }

    /// <summary>The outputs of the step that wrote this cache in place (its logits), disposed with it; the tensors
    /// themselves belong to the owner passed along by <see cref="Extend"/>.</summary>
    private IDisposable? StepOutputs { get; init; }

    /// <summary>Bytes held (what the prefix cache budgets by).</summary>
    public long Bytes => Tensors.Sum(t => t.GetTensorSizeInBytes());

    /// <summary>The same tensors <paramref name="columns"/> columns longer, written in place by a step whose other
    /// outputs are <paramref name="stepOutputs"/> (null: by something that left no outputs, such as rows placed by
    /// <see cref="KvMerger.Place"/>): the tensors move to the new state, and disposing this one releases only its own
    /// step's outputs.</summary>
    public KvState Extend(int columns, IDisposable? stepOutputs, OrtValue? logits)
    {
        if (_moved || Length + columns > Capacity)
        {
            throw new InvalidOperationException(_moved ? "the cache's tensors were already moved on" : $"a cache of {Capacity} columns has no room for {Length + columns}");
        }

        _moved = true;
        return new KvState(owner, Tensors, Batch, Length + columns) { Capacity = Capacity, StepOutputs = stepOutputs, Logits = logits };
    }

    public void Dispose()
    {
        StepOutputs?.Dispose();
        if (_moved)
        {
            return;
        }

        _moved = true;
        if (owner is not null)
        {
            owner.Dispose();
        }
        else
        {
            foreach (var tensor in Tensors)
            {
                tensor.Dispose();
            }
        }
    }
}
