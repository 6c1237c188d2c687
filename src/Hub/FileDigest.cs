using System.Security.Cryptography;

namespace Distil.Hub;

/// <summary>What the Hub needs to know about a file before it is uploaded: size, SHA-256 (the LFS oid) and its first 512 bytes.</summary>
internal sealed record FileDigest(long Size, string Sha256, byte[] Sample)
{
    private const int SampleLength = 512;

    public static async Task<FileDigest> ComputeAsync(string path, CancellationToken cancellationToken)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.Asynchronous | FileOptions.SequentialScan);
        var sample = new byte[(int)Math.Min(SampleLength, stream.Length)];
        await stream.ReadExactlyAsync(sample, cancellationToken).ConfigureAwait(false);
        stream.Position = 0;
        var hash = await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false);
        return new FileDigest(stream.Length, Convert.ToHexStringLower(hash), sample);
    }
}
