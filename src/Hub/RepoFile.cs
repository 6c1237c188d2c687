namespace Distil.Hub;

/// <summary>A file of the published repository: its path there and the local file that holds its bytes.</summary>
public sealed record RepoFile(string PathInRepo, string LocalPath);
