using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>What a loader does with a malformed record: <c>fail</c> the run (default) or <c>skip</c> it and count it.</summary>
internal enum InputErrorPolicy
{
    Fail,
    Skip,
}

internal static class InputErrorPolicies
{
    public const string MalformedRecord = "malformed_record";

    public static InputErrorPolicy Read(StepParameters parameters) => parameters.GetString("on_error") switch
    {
        null or "fail" => InputErrorPolicy.Fail,
        "skip" => InputErrorPolicy.Skip,
        var other => throw parameters.Error("on_error", $"'on_error' must be \"fail\" or \"skip\", not \"{other}\""),
    };

    /// <summary>The input file a loader reads, which must exist when the definition is checked.</summary>
    public static string RequireExistingFile(StepParameters parameters, string name = "path")
    {
        var path = parameters.GetPath(name) ?? throw parameters.Error(name, $"step '{parameters.Name}' needs the parameter '{name}'");
        if (!File.Exists(path) && !Directory.Exists(path) && parameters.InputCopies.TryGetValue(path, out var copy) && File.Exists(copy))
        {
            path = copy;
        }

        if (!File.Exists(path) && !Directory.Exists(path))
        {
            throw parameters.Error(name, $"input file not found: {path}");
        }

        if (RegularFile.Problem(path) is { } notAFile)
        {
            throw parameters.Error(name, $"the input {path} {notAFile}");
        }

        return path;
    }
}
