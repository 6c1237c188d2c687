using System.Net;
using System.Text;

namespace Distil.Server.Tests.Infrastructure;

/// <summary>An OTLP/HTTP endpoint on loopback that keeps what it was sent (bodies read as UTF-8: protobuf strings stay legible).</summary>
internal sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly List<string> _bodies = [];
    private readonly Task _loop;

    public OtlpReceiver()
    {
        for (var attempt = 0; ; attempt++)
        {
            var port = LoopbackPort.Free();
            _listener.Prefixes.Clear();
            _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            try
            {
                _listener.Start();
                Url = $"http://127.0.0.1:{port}";
                break;
            }
            catch (HttpListenerException) when (attempt < 10)
            {
            }
        }

        _loop = Task.Run(LoopAsync);
    }

    public string Url { get; private set; } = "";

    public string? LastPath { get; private set; }

    /// <summary>Waits until a body received satisfies <paramref name="condition"/>, and returns it.</summary>
    public async Task<string> WaitForAsync(Func<string, bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            lock (_bodies)
            {
                if (_bodies.FirstOrDefault(condition) is { } body)
                {
                    return body;
                }

                if (DateTime.UtcNow > deadline)
                {
                    throw new Xunit.Sdk.XunitException($"no matching OTLP export in {timeout.TotalSeconds} s; {_bodies.Count} received");
                }
            }

            await Task.Delay(100);
        }
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
            {
                return;
            }

            using var buffer = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(buffer);
            lock (_bodies)
            {
                _bodies.Add(Encoding.UTF8.GetString(buffer.ToArray()));
                LastPath = context.Request.Url?.AbsolutePath;
            }

            // An empty ExportMetricsServiceResponse is an empty protobuf message.
            context.Response.StatusCode = 200;
            context.Response.ContentType = "application/x-protobuf";
            context.Response.Close();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        await _loop;
    }
}
