using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Distil.Engine.Onnx;

/// <summary>
/// Rearranges KV caches where they live (CPU or GPU) with a small ONNX graph of its own: picks rows of two
/// caches, keeps a range of columns, pads each to a common length and stacks them. This is how a batch
/// loses finished rows, gains a newly prefilled request and is compacted when columns are padding for every
/// row — without a round trip through host memory. Right-aligned caches (rows end at the last column) are
/// padded on the left; left-aligned ones (rows start at column 0, as GroupQueryAttention reads them) on the right.
/// A second graph writes rows into a batch cache in place (<see cref="Place"/>), for a joiner taking a finished row.
/// </summary>
internal sealed class KvMerger : IDisposable
{
    private static readonly string[] Sides = ["a", "b"];

    private readonly InferenceSession _session;
    private readonly InferenceSession _placeSession;
    private readonly KvLayout _layout;
    private readonly OrtMemoryInfo _kvMemory;
    private readonly string[] _inputNames;

    public KvMerger(KvLayout layout, ExecutionDevice device)
    {
        _layout = layout;
        _kvMemory = device.KvMemory();
        var graph = BuildGraph(layout);
        _inputNames = graph.Inputs.Select(i => i.Name).ToArray();
        OrtEnvironment.Prepare();
        using var options = new SessionOptions();
        options.IntraOpNumThreads = 1;
        device.Configure(options);
        _session = new InferenceSession(OnnxModelWriter.ToBytes(graph, 17), options);
        _placeSession = new InferenceSession(OnnxModelWriter.ToBytes(BuildPlaceGraph(layout), 17), options);
    }

    /// <summary>One side of a merge: which rows of which cache, and the columns [start, end) kept.</summary>
    public readonly record struct Part(KvState Cache, long[] Rows, int StartColumn, int EndColumn)
    {
        public int Width => EndColumn - StartColumn;

        /// <summary>All of a cache's columns for the given rows.</summary>
        public static Part Whole(KvState cache, long[] rows) => new(cache, rows, 0, cache.Length);
    }

    /// <summary>Stacks the chosen rows of <paramref name="first"/> then of <paramref name="second"/>, each padded
    /// with zeros to the longer width (on the right when <paramref name="leftAligned"/>, else on the left). Returns a
    /// new cache; the inputs stay owned by the caller. A left-aligned merge may pad further, to
    /// <paramref name="capacity"/> columns: the cache's length stays the longer width and the rest is room for
    /// steps that write in place.</summary>
    public KvState Merge(Part first, Part second, bool leftAligned = false, int capacity = 0)
    {
        var length = Math.Max(first.Width, second.Width);
        if (capacity > length && !leftAligned)
        {
            throw new ArgumentException("only a left-aligned cache has room after its tokens", nameof(capacity));
        }

        var width = Math.Max(length, capacity);
        using var binding = _session.CreateIoBinding();
        var owned = new List<OrtValue>();
        try
        {
            var index = 0;
            foreach (var part in new[] { first, second })
            {
                foreach (var tensor in part.Cache.Tensors)
                {
                    binding.BindInput(_inputNames[index++], tensor);
                }
            }

            foreach (var part in new[] { first, second })
            {
                var rows = OrtValue.CreateTensorValueFromMemory(part.Rows, [part.Rows.Length]);
                var start = OrtValue.CreateTensorValueFromMemory(new long[] { part.StartColumn }, [1]);
                var end = OrtValue.CreateTensorValueFromMemory(new long[] { part.EndColumn }, [1]);
                var padding = length - part.Width;
                var pads = OrtValue.CreateTensorValueFromMemory(leftAligned ? ColumnPads(0, padding) : ColumnPads(padding, 0), [8]);
                owned.AddRange([rows, start, end, pads]);
                binding.BindInput(_inputNames[index++], rows);
                binding.BindInput(_inputNames[index++], start);
                binding.BindInput(_inputNames[index++], end);
                binding.BindInput(_inputNames[index++], pads);
            }

            var room = OrtValue.CreateTensorValueFromMemory(ColumnPads(0, width - length), [8]);
            owned.Add(room);
            binding.BindInput(_inputNames[index], room);

            for (var i = 0; i < _layout.Layers * 2; i++)
            {
                binding.BindOutputToDevice($"out_{i}", _kvMemory);
            }

            using var runOptions = new RunOptions();
            _session.RunWithBinding(runOptions, binding);
            var outputs = binding.GetOutputValues();
            return new KvState(outputs, outputs.ToArray(), first.Rows.Length + second.Rows.Length, length) { Capacity = width };
        }
        finally
        {
            foreach (var value in owned)
            {
                value.Dispose();
            }
        }
    }

    /// <summary>Writes <paramref name="sourceRows"/> of <paramref name="source"/> (their first <paramref name="columns"/>
    /// columns, zero-padded on the right to the batch's width) over rows <paramref name="targetRows"/> of the left-aligned
    /// <paramref name="batch"/>, in the batch's own tensors: ScatterND's output is bound to its data input, which ONNX
    /// Runtime's CPU and CUDA kernels then update in place instead of copying the whole cache first. The other rows
    /// are untouched; the batch's <see cref="KvState.Length"/> is the caller's to widen.</summary>
    public void Place(KvState batch, long[] targetRows, KvState source, long[] sourceRows, int columns)
    {
        if (targetRows.Length != sourceRows.Length || columns > batch.Capacity || columns > source.Capacity)
        {
            throw new ArgumentException($"cannot place {sourceRows.Length} rows of {columns} columns into {targetRows.Length} rows of a {batch.Capacity}-column cache");
        }

        using var binding = _placeSession.CreateIoBinding();
        using var sources = OrtValue.CreateTensorValueFromMemory(sourceRows, [sourceRows.Length]);
        using var targets = OrtValue.CreateTensorValueFromMemory(targetRows.ToArray(), [targetRows.Length, 1]);
        using var end = OrtValue.CreateTensorValueFromMemory(new long[] { columns }, [1]);
        using var pads = OrtValue.CreateTensorValueFromMemory(ColumnPads(0, batch.Capacity - columns), [8]);
        for (var i = 0; i < _layout.Layers * 2; i++)
        {
            binding.BindInput($"batch_{i}", batch.Tensors[i]);
            binding.BindInput($"source_{i}", source.Tensors[i]);
            binding.BindOutput($"out_{i}", batch.Tensors[i]);
        }

        binding.BindInput("source_rows", sources);
        binding.BindInput("target_rows", targets);
        binding.BindInput("end", end);
        binding.BindInput("pads", pads);
        using var runOptions = new RunOptions();
        _placeSession.RunWithBinding(runOptions, binding);
    }

    public void Dispose()
    {
        _session.Dispose();
        _placeSession.Dispose();
    }

    /// <summary>Pad's pads for a [batch, heads, columns, head_dim] cache: <paramref name="before"/> and
    /// <paramref name="after"/> columns, nothing on the other axes.</summary>
    private static long[] ColumnPads(long before, long after) => [0, 0, before, 0, 0, 0, after, 0];

    private static OnnxGraph BuildPlaceGraph(KvLayout layout)
    {
        var g = new GraphBuilder("kv_place");
        var type = layout.KvType == TensorElementType.Float16 ? OnnxDataType.Float16 : OnnxDataType.Float;
        g.Graph.Inputs.Add(new OnnxValueInfo("source_rows", OnnxDataType.Int64, ["rows"]));
        g.Graph.Inputs.Add(new OnnxValueInfo("target_rows", OnnxDataType.Int64, ["rows", 1L]));
        g.Graph.Inputs.Add(new OnnxValueInfo("end", OnnxDataType.Int64, [1L]));
        g.Graph.Inputs.Add(new OnnxValueInfo("pads", OnnxDataType.Int64, [8L]));
        var start = g.Int64s(0);
        var axis = g.Int64s(2);
        for (var i = 0; i < layout.Layers * 2; i++)
        {
            g.Graph.Inputs.Add(new OnnxValueInfo($"batch_{i}", type, ["batch", (long)layout.KvHeads, "capacity", (long)layout.HeadDim]));
            g.Graph.Inputs.Add(new OnnxValueInfo($"source_{i}", type, ["source_batch", (long)layout.KvHeads, "source_len", (long)layout.HeadDim]));
            var rows = g.Op("Gather", [$"source_{i}", "source_rows"], new OnnxAttribute("axis", Int: 0));
            var padded = g.Op("Pad", g.Op("Slice", rows, start, "end", axis), "pads");
            g.Graph.Nodes.Add(new OnnxNode("ScatterND", $"place_{i}", [$"batch_{i}", "target_rows", padded], [$"out_{i}"], []));
            g.Graph.Outputs.Add(new OnnxValueInfo($"out_{i}", type, ["batch", (long)layout.KvHeads, "capacity", (long)layout.HeadDim]));
        }

        return g.Graph;
    }

    private static OnnxGraph BuildGraph(KvLayout layout)
    {
        var g = new GraphBuilder("kv_merge");
        var type = layout.KvType == TensorElementType.Float16 ? OnnxDataType.Float16 : OnnxDataType.Float;
        var count = layout.Layers * 2;
        foreach (var side in new[] { "a", "b" })
        {
            for (var i = 0; i < count; i++)
            {
                g.Graph.Inputs.Add(new OnnxValueInfo($"{side}_{i}", type, [$"{side}_batch", (long)layout.KvHeads, $"{side}_len", (long)layout.HeadDim]));
            }
        }

        foreach (var side in new[] { "a", "b" })
        {
            g.Graph.Inputs.Add(new OnnxValueInfo($"{side}_rows", OnnxDataType.Int64, [$"{side}_rows_count"]));
            g.Graph.Inputs.Add(new OnnxValueInfo($"{side}_start", OnnxDataType.Int64, [1L]));
            g.Graph.Inputs.Add(new OnnxValueInfo($"{side}_end", OnnxDataType.Int64, [1L]));
            g.Graph.Inputs.Add(new OnnxValueInfo($"{side}_pads", OnnxDataType.Int64, [8L]));
        }

        // The room after the tokens is added once, to the stacked rows: the only copy as wide as the capacity.
        g.Graph.Inputs.Add(new OnnxValueInfo("room_pads", OnnxDataType.Int64, [8L]));
        var axis = g.Int64s(2);
        for (var i = 0; i < count; i++)
        {
            var parts = Sides.Select(side =>
            {
                var rows = g.Op("Gather", [$"{side}_{i}", $"{side}_rows"], new OnnxAttribute("axis", Int: 0));
                var sliced = g.Op("Slice", rows, $"{side}_start", $"{side}_end", axis);
                return g.Op("Pad", sliced, $"{side}_pads");
            }).ToArray();
            var stacked = g.Op("Concat", parts, new OnnxAttribute("axis", Int: 0));
            g.Graph.Nodes.Add(new OnnxNode("Pad", $"room_out_{i}", [stacked, "room_pads"], [$"out_{i}"], []));
            g.Graph.Outputs.Add(new OnnxValueInfo($"out_{i}", type, ["batch", (long)layout.KvHeads, "len", (long)layout.HeadDim]));
        }

        return g.Graph;
    }
}
