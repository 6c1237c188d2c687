using Microsoft.ML.OnnxRuntime;

namespace Distil.Engine.Onnx;

/// <summary>Where a model runs: "cpu" (default) or "cuda" / "cuda:N".</summary>
public sealed record ExecutionDevice(bool IsCuda, int DeviceId)
{
    public static ExecutionDevice Cpu { get; } = new(false, 0);

    public static ExecutionDevice Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text) || text.Equals("cpu", StringComparison.OrdinalIgnoreCase))
        {
            return Cpu;
        }

        if (text.StartsWith("cuda", StringComparison.OrdinalIgnoreCase))
        {
            var rest = text[4..];
            if (rest.Length == 0)
            {
                return new ExecutionDevice(true, 0);
            }

            if (rest[0] == ':' && int.TryParse(rest[1..], out var id) && id >= 0)
            {
                return new ExecutionDevice(true, id);
            }
        }

        throw new ArgumentException($"device '{text}' is not understood; use \"cpu\", \"cuda\" or \"cuda:N\"");
    }

    /// <summary>Memory that KV-cache tensors live in between steps.</summary>
    internal OrtMemoryInfo KvMemory() =>
        IsCuda ? new OrtMemoryInfo(OrtMemoryInfo.allocatorCUDA, OrtAllocatorType.DeviceAllocator, DeviceId, OrtMemType.Default) : OrtMemoryInfo.DefaultInstance;

    internal void Configure(SessionOptions options)
    {
        if (!IsCuda)
        {
            return;
        }
#if DISTIL_GPU
        options.AppendExecutionProvider_CUDA(DeviceId);
#else
        throw new NotSupportedException(
            $"device 'cuda:{DeviceId}' was requested but this build of Distil uses the CPU ONNX Runtime package; rebuild with `dotnet build -p:DistilGpu=true` (Microsoft.ML.OnnxRuntime.Gpu) to run on CUDA");
#endif
    }

    public override string ToString() => IsCuda ? $"cuda:{DeviceId}" : "cpu";
}
