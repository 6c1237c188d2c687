using System.Runtime.InteropServices;
using Distil.Engine.Model;
using Microsoft.ML.OnnxRuntime;

namespace Distil.Engine.Onnx;

/// <summary>
/// The process-wide ONNX Runtime environment as Distil wants it. Official ORT builds (1.29+) record telemetry
/// by default: on Linux a device id and an event queue under ~/.cache/Microsoft/DeveloperTools/.onnxruntime,
/// uploaded later. A data pipeline should not report on its users unasked, so it is off unless
/// DISTIL_ORT_TELEMETRY=1 opts in.
/// </summary>
public static class OrtEnvironment
{
    public const string OptInVariable = "DISTIL_ORT_TELEMETRY";

    // ORT reads these with getenv while it creates its environment, before any API call could turn telemetry
    // off, and latches the answer; the second name is the one later releases read.
    private static readonly string[] OrtOptOutVariables = ["ORT_DISABLE_TELEMETRY", "ORT_TELEMETRY_DISABLED"];

    /// <summary>
    /// The session log level Distil opens models with. Builder graphs declare <c>logits_positions</c> as an
    /// overridable initializer (an optional input), and ONNX Runtime warns about every such initializer each time a
    /// session loads the file; that warning is the design working, so sessions log errors only.
    /// </summary>
    public const OrtLoggingLevel QuietLogging = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR;

    private static readonly Lazy<bool> Prepared = new(PrepareOnce, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Whether ORT telemetry was left on (the opt-in); prepares the environment on first call.</summary>
    public static bool Prepare() => Prepared.Value;

    /// <summary>
    /// A session on a model file as every Distil model opens one: environment prepared, full graph optimisation,
    /// <paramref name="threads"/> intra-op threads when positive (one inter-op thread), on <paramref name="device"/>.
    /// A file ONNX Runtime refuses is a <see cref="ModelFormatException"/> naming it.
    /// </summary>
    internal static InferenceSession OpenSession(string modelFile, int threads, ExecutionDevice device)
    {
        Prepare();
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, LogSeverityLevel = QuietLogging };
        if (threads > 0)
        {
            options.IntraOpNumThreads = threads;
            options.InterOpNumThreads = 1;
        }

        try
        {
            device.Configure(options);
            return new InferenceSession(modelFile, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new ModelFormatException(modelFile, $"ONNX Runtime cannot load it: {e.Message}", e);
        }
    }

    private static bool PrepareOnce()
    {
        var optIn = Environment.GetEnvironmentVariable(OptInVariable) == "1";
        if (!optIn && !OperatingSystem.IsWindows())
        {
            foreach (var name in OrtOptOutVariables)
            {
                // Environment.SetEnvironmentVariable only changes .NET's own copy on Unix; ORT reads the C one.
                _ = SetNativeEnvironmentVariable(name, "1", overwrite: 0);
            }
        }

        var env = OrtEnv.Instance();
        if (optIn)
        {
            env.EnableTelemetryEvents();
        }
        else
        {
            env.DisableTelemetryEvents();
        }

        return optIn;
    }

    // DllImport rather than LibraryImport: the latter needs unsafe code enabled for the whole assembly.
    [DllImport("libc", EntryPoint = "setenv", CharSet = CharSet.Ansi)]
    private static extern int SetNativeEnvironmentVariable(string name, string value, int overwrite);
}
