namespace Distil.Hub;

/// <summary>
/// Publishing failed in a way the user can act on (bad folder, refused token, a server that keeps failing).
/// Messages never contain the token: every message is built by <see cref="HubClient"/> or <see cref="HubPublisher"/>,
/// which redact it, and inner exceptions that mention it are dropped.
/// </summary>
public sealed class HubPublishException : Exception
{
    public HubPublishException(string message, Exception? inner = null) : base(message, inner) { }

    /// <summary>The HTTP status of the failing response, when there was one.</summary>
    public int? StatusCode { get; init; }
}
