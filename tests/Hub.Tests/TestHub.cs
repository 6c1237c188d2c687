using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Distil.Hub.Tests;

/// <summary>A loopback hub, a temp folder and a token for one test; plus the options that point a publish at them.</summary>
public sealed class TestHub : IAsyncDisposable
{
    private TestHub(LoopbackHub server, string token, string folder)
    {
        Server = server;
        Token = token;
        Folder = folder;
    }

    public LoopbackHub Server { get; }

    /// <summary>A unique token, searched for in every output to prove it never leaks.</summary>
    public string Token { get; }

    public string Folder { get; }

    public CapturingLogger Log { get; } = new();

    public static async Task<TestHub> StartAsync()
    {
        var token = "hf_" + Guid.NewGuid().ToString("N");
        var folder = Path.Combine(Path.GetTempPath(), "distil-hub-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        return new TestHub(await LoopbackHub.StartAsync(token), token, folder);
    }

    public PublishOptions Options(string repo = "alice/dpo-set", string? token = null) => new()
    {
        Repo = repo,
        Endpoint = Server.Endpoint,
        Token = new HubToken(token ?? Token, "the environment variable HF_TOKEN"),
        Retry = new HubRetryPolicy(4, TimeSpan.FromMilliseconds(5), TimeSpan.FromSeconds(2)),
        Logger = Log,
    };

    /// <summary>Runs the distil command line as a real process in this hub's folder, with its own Hugging Face
    /// home and no Hub token from the environment.</summary>
    public Task<DistilResult> RunCliAsync(params string[] args) =>
        DistilProcess.RunAsync(Folder, new Dictionary<string, string?> { ["HF_HOME"] = Path.Combine(Folder, "hf-home") }, args);

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        Directory.Delete(Folder, recursive: true);
    }
}

/// <summary>Keeps every log line (formatted, with exceptions) so that tests can search them.</summary>
public sealed class CapturingLogger : ILogger
{
    public ConcurrentQueue<string> Lines { get; } = new();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Lines.Enqueue($"{logLevel}: {formatter(state, exception)} {exception}");
}
