using Distil.Engine.Model;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Distil.Engine.Onnx;

/// <summary>
/// One decoder-only model in an ONNX Runtime session: runs a forward step over a batch with its KV cache and
/// hands back the last position's logits per row. Present outputs stay where the model runs (device memory
/// under CUDA, via <see cref="OrtIoBinding"/>) and are fed back as the next step's past.
/// </summary>
internal sealed class OnnxCausalLM : IDisposable
{
    private readonly InferenceSession _session;
    private readonly OrtMemoryInfo _kvMemory;
    private readonly RunOptions _runOptions = new();
    private readonly OrtIoBinding _binding;
    private readonly OrtValue _cacheBranchOn = OrtValue.CreateTensorValueFromMemory(new[] { true }, [1]);
    private readonly OrtValue _cacheBranchOff = OrtValue.CreateTensorValueFromMemory(new[] { false }, [1]);
    private long[] _logitsPositions = [];
    private float[] _stepLogitsBuffer = [];
    private OrtValue? _stepLogits;
    private int _stepLogitsBatch = -1;

    private OnnxCausalLM(InferenceSession session, string modelFile, KvLayout layout, DecoderConfig config, OnnxFileSummary summary, ExecutionDevice device)
    {
        _session = session;
        ModelFile = modelFile;
        Layout = layout;
        Config = config;
        Summary = summary;
        Device = device;
        _kvMemory = device.KvMemory();
        Merger = new KvMerger(layout, device);
        _binding = session.CreateIoBinding();
    }

    public string ModelFile { get; }

    public KvLayout Layout { get; }

    public DecoderConfig Config { get; }

    /// <summary>Operators and weights of the model file.</summary>
    public OnnxFileSummary Summary { get; }

    public ExecutionDevice Device { get; }

    public KvMerger Merger { get; }

    public int VocabSize => Layout.VocabSize > 0 ? Layout.VocabSize : Config.VocabSize?.Value ?? throw new ModelFormatException(ModelFile, "the logits' vocabulary dimension is symbolic and config.json states no 'vocab_size'");

    /// <param name="threads">Intra-op threads of this model's session (0 = ONNX Runtime's default).</param>
    /// <param name="variant">Which ONNX file of the folder (<see cref="ModelVariant"/>); null = full precision.</param>
    public static OnnxCausalLM Load(string folder, ExecutionDevice device, int threads, string? variant = null)
    {
        var config = DecoderConfig.Load(folder);
        var modelFile = ModelVariant.Find(folder, variant, config);
        var summary = OnnxFileSummary.Read(modelFile);
        var session = OrtEnvironment.OpenSession(modelFile, threads, device);

        try
        {
            var layout = KvLayout.Discover(session, modelFile, config, summary);
            GraphConfigCheck.Validate(config, layout, summary);
            return new OnnxCausalLM(session, modelFile, layout, config, summary, device);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>An empty cache for <paramref name="batch"/> rows (length 0).</summary>
    public KvState EmptyCache(int batch)
    {
        var tensors = new OrtValue[Layout.Layers * 2];
        for (var i = 0; i < tensors.Length; i++)
        {
            tensors[i] = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, Layout.KvType, [batch, Layout.KvHeads, 0, Layout.HeadDim]);
        }

        return new KvState(null, tensors, batch, 0);
    }

    /// <summary>
    /// Runs <paramref name="seq"/> new tokens per row after <paramref name="past"/>. <paramref name="mask"/> is
    /// [batch, past.Length + seq] (1 = real token); <paramref name="positions"/> is [batch, seq]; the arrays may be
    /// longer (buffers kept by the caller across steps), only their leading elements are read. Writes the logits
    /// of each row's last position into <paramref name="lastLogits"/> ([batch, vocab]) and returns the new cache.
    /// The caller still owns <paramref name="past"/>. An empty <paramref name="lastLogits"/> skips the copy: read
    /// them in place with <see cref="LastLogits"/> while the returned cache lives (for a single-token step, until
    /// the next single-token step). <paramref name="lastColumns"/> gives each row's last real column when rows are
    /// right-padded (null: the last column for every row). A multi-token step of a graph that
    /// <see cref="KvLayout.SelectsLogitsPositions"/> computes only those columns' logits ([batch, 1, vocab]).
    /// One caller at a time: the binding is reused.
    /// </summary>
    public KvState Forward(long[] inputIds, long[] mask, long[] positions, int batch, int seq, KvState past, Span<float> lastLogits, int[]? lastColumns = null)
    {
        var total = past.Length + seq;
        using var ids = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, inputIds.AsMemory(0, batch * seq), [batch, seq]);
        using var maskValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, mask.AsMemory(0, batch * total), [batch, total]);
        using var positionValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, positions.AsMemory(0, batch * seq), [batch, seq]);
        var selected = seq > 1 && Layout.SelectsLogitsPositions;
        using var logitsPositions = selected ? LogitsPositions(batch, seq, lastColumns) : null;
        var binding = _binding;
        try
        {
            binding.BindInput(Layout.InputIds, ids);
            if (logitsPositions is not null)
            {
                binding.BindInput(LogitsSelection.Input, logitsPositions);
            }

            binding.BindInput(Layout.AttentionMask, maskValue);
            if (Layout.HasPositionIds)
            {
                binding.BindInput(Layout.PositionIds, positionValue);
            }

            if (Layout.HasCacheBranchFlag)
            {
                binding.BindInput(KvLayout.CacheBranchInput, past.Length > 0 ? _cacheBranchOn : _cacheBranchOff);
            }

            for (var i = 0; i < past.Tensors.Length; i++)
            {
                binding.BindInput(Layout.PastNames[i], past.Tensors[i]);
            }

            if (StepLogits(batch, seq) is { } stepLogits)
            {
                binding.BindOutput(Layout.Logits, stepLogits);
            }
            else
            {
                binding.BindOutputToDevice(Layout.Logits, OrtMemoryInfo.DefaultInstance);
            }

            var inPlace = InPlace(past, seq);
            for (var i = 0; i < Layout.PresentNames.Length; i++)
            {
                if (inPlace)
                {
                    // The same tensor as past and present: GroupQueryAttention sees one pointer and writes only the
                    // new columns (ONNX Runtime's past_present_share_buffer) instead of copying the whole cache.
                    binding.BindOutput(Layout.PresentNames[i], past.Tensors[i]);
                }
                else
                {
                    binding.BindOutputToDevice(Layout.PresentNames[i], _kvMemory);
                }
            }

            _session.RunWithBinding(_runOptions, binding);
            var outputs = binding.GetOutputValues();
            try
            {
                if (!lastLogits.IsEmpty)
                {
                    CopyLastLogits(outputs[0], batch, selected ? 1 : seq, selected ? null : lastColumns, lastLogits);
                }

                if (inPlace)
                {
                    return past.Extend(seq, outputs, outputs[0]);
                }

                var present = new OrtValue[Layout.PresentNames.Length];
                for (var i = 0; i < present.Length; i++)
                {
                    present[i] = outputs[i + 1];
                }

                // GroupQueryAttention's present is as wide as its past when that is wider than the mask.
                var capacity = (int)present[0].GetTensorTypeAndShape().Shape[2];
                return new KvState(outputs, present, batch, total) { Logits = outputs[0], Capacity = capacity };
            }
            catch
            {
                outputs.Dispose();
                throw;
            }
        }
        finally
        {
            // The binding would otherwise keep this step's past and present alive until the next step.
            binding.ClearBoundInputs();
            binding.ClearBoundOutputs();
        }
    }

    /// <summary>
    /// Whether this step writes into <paramref name="past"/>'s own tensors: a single-token step over a cache with
    /// room (the scheduler lays left-aligned caches out with spare columns). The graph needs nothing special:
    /// GroupQueryAttention sizes its present as max(total_sequence_length, past columns), which is the capacity,
    /// and takes each row's length from the mask. A graph that concatenates instead would grow past the capacity.
    /// </summary>
    private bool InPlace(KvState past, int seq)
    {
        if (!past.HasRoom)
        {
            return false;
        }

        if (!Layout.LengthsFromMask)
        {
            throw new InvalidOperationException($"{Path.GetFileName(ModelFile)} concatenates its cache; a cache with spare columns is only for GroupQueryAttention graphs");
        }

        return seq == 1;
    }

    /// <summary>Each row's last real column (<paramref name="lastColumns"/>, or the last column for all) as the
    /// graph's <see cref="LogitsSelection.Input"/>, over a buffer kept across calls.</summary>
    private OrtValue LogitsPositions(int batch, int seq, int[]? lastColumns)
    {
        if (_logitsPositions.Length < batch)
        {
            _logitsPositions = new long[batch];
        }

        for (var b = 0; b < batch; b++)
        {
            _logitsPositions[b] = lastColumns?[b] ?? seq - 1;
        }

        return OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _logitsPositions.AsMemory(0, batch), [batch]);
    }

    /// <summary>A single-token step's fp32 logits go into one host buffer kept across steps (grown to the widest
    /// batch seen) instead of a fresh [batch, 1, vocab] allocation per step; null for other shapes and types.</summary>
    private OrtValue? StepLogits(int batch, int seq)
    {
        if (seq != 1 || Layout.LogitsType != TensorElementType.Float)
        {
            return null;
        }

        if (_stepLogitsBatch != batch)
        {
            var needed = (long)batch * VocabSize;
            if (_stepLogitsBuffer.Length < needed)
            {
                _stepLogitsBuffer = GC.AllocateUninitializedArray<float>(checked((int)needed), pinned: true);
            }

            _stepLogits?.Dispose();
            _stepLogits = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _stepLogitsBuffer.AsMemory(0, (int)needed), [batch, 1, VocabSize]);
            _stepLogitsBatch = batch;
        }

        return _stepLogits;
    }

    /// <summary>Row <paramref name="row"/>'s last-position logits of a single-token step, in place when they are fp32
    /// (the sampler may scribble on them: they are this step's own output), else converted into <paramref name="scratch"/>.</summary>
    public Span<float> LastLogits(KvState step, int row, float[] scratch)
    {
        var logits = step.Logits ?? throw new InvalidOperationException("this cache carries no logits");
        var vocab = VocabSize;
        if (Layout.LogitsType == TensorElementType.Float)
        {
            return logits.GetTensorMutableDataAsSpan<float>().Slice(row * vocab, vocab);
        }

        var source = logits.GetTensorDataAsSpan<Float16>().Slice(row * vocab, vocab);
        var target = scratch.AsSpan(row * vocab, vocab);
        for (var v = 0; v < vocab; v++)
        {
            target[v] = source[v].ToFloat();
        }

        return target;
    }

    public void Dispose()
    {
        Merger.Dispose();
        _binding.Dispose();
        _stepLogits?.Dispose();
        _cacheBranchOn.Dispose();
        _cacheBranchOff.Dispose();
        _runOptions.Dispose();
        _session.Dispose();
    }

    private void CopyLastLogits(OrtValue logits, int batch, int seq, int[]? lastColumns, Span<float> destination)
    {
        var vocab = VocabSize;
        for (var b = 0; b < batch; b++)
        {
            var offset = ((long)b * seq + (lastColumns?[b] ?? seq - 1)) * vocab;
            var target = destination.Slice(b * vocab, vocab);
            if (Layout.LogitsType == TensorElementType.Float16)
            {
                var source = logits.GetTensorDataAsSpan<Float16>().Slice((int)offset, vocab);
                for (var v = 0; v < vocab; v++)
                {
                    target[v] = source[v].ToFloat();
                }
            }
            else
            {
                logits.GetTensorDataAsSpan<float>().Slice((int)offset, vocab).CopyTo(target);
            }
        }
    }
}
