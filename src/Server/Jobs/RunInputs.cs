using System.Security.Cryptography;
using Distil.Pipeline;
using Distil.Server.Hosting;
using Distil.Server.Storage;

namespace Distil.Server.Jobs;

/// <summary>
/// Input files that travel with a run. At submission the files its loaders read are stored in the run store,
/// content-addressed; a worker on a machine where such a path does not exist fetches the content once into
/// <c>&lt;work-dir&gt;/inputs/&lt;sha256&gt;</c> and the loader reads that copy. A path that exists locally is read where it is.
/// Model folders do not travel (they are large and usually provisioned per machine): a worker without one fails
/// its shard naming the path.
/// </summary>
internal sealed class RunInputs(IRunStore store, ServiceOptions options)
{
    /// <summary>Stores the input files of the definition's loaders (sources that read a local file through "path").</summary>
    public async Task StoreAsync(Guid runId, PipelineDefinition definition, CancellationToken cancellationToken)
    {
        foreach (var path in FilesOf(definition))
        {
            await store.StoreInputAsync(runId, path, cancellationToken);
        }
    }

    /// <summary>Local copies of the run's stored inputs whose paths are missing here, by the path the definition names.</summary>
    public async Task<IReadOnlyDictionary<string, string>> LocalCopiesAsync(Guid runId, CancellationToken cancellationToken)
    {
        var copies = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var input in await store.GetInputsAsync(runId, cancellationToken))
        {
            if (!File.Exists(input.Path))
            {
                copies[input.Path] = await FetchAsync(input, cancellationToken);
            }
        }

        return copies;
    }

    internal static IEnumerable<string> FilesOf(PipelineDefinition definition) => definition.Steps
        .Where(s => s.Step is ISourceStep && s.Parameters.Has("path"))
        .Select(s => s.Parameters.GetPath("path")!)
        .Where(File.Exists)
        .Distinct(StringComparer.Ordinal);

    private async Task<string> FetchAsync(RunInput input, CancellationToken cancellationToken)
    {
        var folder = Path.GetFullPath(Path.Combine(options.WorkDirectory, "inputs"));
        // The extension stays, for loaders or people that look at it; the name is the content's digest, so runs share copies.
        var local = Path.Combine(folder, input.Digest + Path.GetExtension(input.Path));
        if (File.Exists(local))
        {
            return local; // only ever renamed into place after its digest was checked
        }

        Directory.CreateDirectory(folder);
        var partial = $"{local}.{Guid.NewGuid():N}.partial";
        try
        {
            await using (var file = new FileStream(partial, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 20))
            {
                await store.CopyInputAsync(input.Digest, file, cancellationToken);
                file.Position = 0;
                var digest = Convert.ToHexStringLower(await SHA256.HashDataAsync(file, cancellationToken));
                if (digest != input.Digest || file.Length != input.Size)
                {
                    throw new IOException($"the stored copy of {input.Path} is damaged (sha256 {digest}, {file.Length} bytes; expected {input.Digest}, {input.Size} bytes)");
                }
            }

            File.Move(partial, local, overwrite: true);
            return local;
        }
        finally
        {
            File.Delete(partial);
        }
    }
}
