using Microsoft.ML.OnnxRuntime;

namespace Distil.Engine.Onnx;

/// <summary>
/// The key/value cache of a batch: for each layer a key and a value tensor [batch, kv_heads, length, head_dim]
/// (index 2·layer and 2·layer+1), living where the model runs. Owns the ORT outputs they came from.
/// </summary>
internal sealed class KvState(IDisposable? owner, OrtValue[] tensors, int batch, int length) : IDisposable
{
    public OrtValue[] Tensors { get; } = tensors;

    public int Batch { get; } = batch;

    public int Length { get; } = length;

    /// <summary>Bytes held (what the prefix cache budgets by).</summary>
    public long Bytes => Tensors.Sum(t => t.GetTensorSizeInBytes());

    public void Dispose()
    {
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
