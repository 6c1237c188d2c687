using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Distil.Pipeline;

/// <summary>
/// Names a run directory: a digest of the definition text, the source data and the slice read. Change any of
/// them and the run starts afresh in a new directory; keep them and a rerun resumes.
/// </summary>
public static class RunFingerprint
{
    /// <summary>The run's fingerprint, and what the source said identifies its data (recorded in the manifest as <c>source</c>).</summary>
    public static async ValueTask<(string Fingerprint, string Source)> ComputeAsync(PipelineDefinition definition, SourceRange range, CancellationToken cancellationToken)
    {
        var source = (ISourceStep)definition.Steps.First(s => s.Step is ISourceStep).Step;
        var data = await source.FingerprintAsync(cancellationToken);
        var text = $"distil-run-1\n{definition.FingerprintText}\n{data}\n{range.Offset}\n{range.Limit?.ToString(CultureInfo.InvariantCulture) ?? "all"}";
        return (Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16], data);
    }

    /// <summary>A content digest of a file, for sources that read one.</summary>
    public static async ValueTask<string> OfFileAsync(string path, CancellationToken cancellationToken)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true);
        var hash = await SHA256.HashDataAsync(stream, cancellationToken);
        return Convert.ToHexStringLower(hash);
    }
}
