using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Distil.Hub;

/// <summary>
/// Sends requests to the Hub and to the storage URLs it hands out: adds the token only for the Hub's own
/// origin, retries 429/5xx and broken connections (honouring Retry-After), turns failures into
/// <see cref="HubPublishException"/>s whose messages never contain the token. Without a token (public
/// downloads) requests go out anonymous.
/// </summary>
internal sealed class HubHttp : IDisposable
{
    private readonly HttpClient _client;
    private readonly Uri _endpoint;
    private readonly HubToken? _token;
    private readonly HubRetryPolicy _retry;
    private readonly ILogger _logger;

    public HubHttp(Uri endpoint, HubToken? token, HubRetryPolicy retry, ILogger? logger, HttpMessageHandler? handler)
    {
        _endpoint = endpoint;
        _token = token;
        _retry = retry;
        _logger = logger ?? NullLogger.Instance;
        _client = handler is null
            ? new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
            : new HttpClient(handler, disposeHandler: false);
        _client.Timeout = TimeSpan.FromMinutes(30);
        _client.DefaultRequestHeaders.UserAgent.ParseAdd("distil/1.0");
    }

    public Uri Endpoint => _endpoint;

    /// <summary>
    /// Sends the request <paramref name="build"/> makes (called again for each attempt) and returns the
    /// successful response. <paramref name="what"/> names the operation in messages ("commit", "upload of data/x.parquet part 3").
    /// The token goes with Hub API calls only (<paramref name="withToken"/>), and never to another origin than the Hub's:
    /// the upload URLs the LFS batch hands out are signed and must not receive it.
    /// </summary>
    public async Task<HttpResponseMessage> SendAsync(Func<HttpRequestMessage> build, string what, CancellationToken cancellationToken, bool withToken = true)
    {
        for (var attempt = 1; ; attempt++)
        {
            using var request = build();
            withToken = withToken && _token is not null && IsHubOrigin(request.RequestUri!);
            if (withToken)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token!.Value);
            }

            HttpResponseMessage response;
            try
            {
                response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is HttpRequestException or IOException or TaskCanceledException)
            {
                var reason = e is TaskCanceledException ? "timed out" : Redact(e.Message);
                if (attempt >= _retry.MaxAttempts)
                {
                    throw new HubPublishException($"{what} failed after {attempt} attempts ({Describe(request.RequestUri!)}): {reason}");
                }

                await WaitAsync(what, attempt, null, reason, cancellationToken).ConfigureAwait(false);
                continue;
            }

            if (response.IsSuccessStatusCode)
            {
                return response;
            }

            using (response)
            {
                var status = (int)response.StatusCode;
                var detail = await ErrorDetailAsync(response, cancellationToken).ConfigureAwait(false);
                if (status is 401 or 403 && withToken)
                {
                    throw new HubPublishException(
                        $"the Hub refused the token ({_token!.Source}) for {what}: {status} {response.ReasonPhrase}{detail}. "
                        + $"Check that it is valid and has {(request.Method == HttpMethod.Get ? "read" : "write")} access to the repository (https://huggingface.co/settings/tokens).")
                    { StatusCode = status };
                }

                var transient = status is 408 or 429 || status >= 500;
                if (!transient || attempt >= _retry.MaxAttempts)
                {
                    throw new HubPublishException(
                        $"{what} failed{(transient ? $" after {attempt} attempts" : "")} ({Describe(request.RequestUri!)}): {status} {response.ReasonPhrase}{detail}")
                    { StatusCode = status };
                }

                await WaitAsync(what, attempt, RetryAfter(response), $"{status} {response.ReasonPhrase}", cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Sends and reads a JSON response body.</summary>
    public async Task<JsonDocument> SendForJsonAsync(Func<HttpRequestMessage> build, string what, CancellationToken cancellationToken, bool withToken = true)
    {
        using var response = await SendAsync(build, what, cancellationToken, withToken).ConfigureAwait(false);
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return JsonDocument.Parse(text.Length == 0 ? "{}" : text);
        }
        catch (JsonException)
        {
            throw new HubPublishException($"{what}: the server answered with something that is not JSON: {Snippet(text)}");
        }
    }

    /// <summary>Removes the token from any text that may reach a message or a log.</summary>
    public string Redact(string text) => _token is null ? text : text.Replace(_token.Value, "***", StringComparison.Ordinal);

    /// <summary>A URL for messages: scheme, host and path, never the query (presigned URLs carry signatures there).</summary>
    public static string Describe(Uri uri) => uri.GetLeftPart(UriPartial.Path);

    public bool IsHubOrigin(Uri uri) =>
        Uri.Compare(uri, _endpoint, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0;

    /// <summary>Logs why and waits before attempt <paramref name="attempt"/> + 1.</summary>
    public async Task WaitAsync(string what, int attempt, TimeSpan? retryAfter, string reason, CancellationToken cancellationToken)
    {
        var delay = _retry.DelayBefore(attempt, retryAfter);
        _logger.LogWarning("{What}: {Reason}; retrying in {Delay:0.0} s (attempt {Next} of {Max})", what, reason, delay.TotalSeconds, attempt + 1, _retry.MaxAttempts);
        await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
    }

    private static TimeSpan? RetryAfter(HttpResponseMessage response) => response.Headers.RetryAfter switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date - DateTimeOffset.UtcNow,
        _ => null,
    };

    private async Task<string> ErrorDetailAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        string text;
        try
        {
            text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            return "";
        }

        if (text.Length == 0)
        {
            return "";
        }

        try
        {
            using var json = JsonDocument.Parse(text);
            if (json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("error", out var error))
            {
                text = error.ValueKind == JsonValueKind.String ? error.GetString()! : error.GetRawText();
            }
        }
        catch (JsonException)
        {
            // Not JSON: show the start of the text as it is.
        }

        return " — " + Snippet(text);
    }

    private string Snippet(string text) => Redact(text.Length > 400 ? text[..400] + "…" : text);

    public void Dispose() => _client.Dispose();
}
