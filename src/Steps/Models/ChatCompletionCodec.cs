using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using System.Text;
using Distil.Engine;
using Microsoft.Extensions.AI;
using OpenAI;

namespace Distil.Steps;

/// <summary>
/// The OpenAI SDK's own translation of a chat request into a request body, and of a completion body into a
/// <see cref="ChatResponse"/>, with no network in between: the SDK's transport is an in-process handler that hands
/// over the body it was given and answers with the body it is told. So a batch line carries exactly what a
/// synchronous call would have sent (messages, sampling, seed, response format), and a batch result becomes exactly
/// the response a synchronous call would have returned.
/// </summary>
internal sealed class ChatCompletionCodec
{
    private const string Placeholder = """{"id":"placeholder","object":"chat.completion","created":0,"model":"placeholder","choices":[{"index":0,"message":{"role":"assistant","content":""},"finish_reason":"stop"}]}""";

    // The exchange of the call in progress on this async flow (calls are concurrent: one handler serves them all).
    private readonly AsyncLocal<Exchange?> _exchange = new();
    private readonly IChatClient _client;

    public ChatCompletionCodec(string model)
    {
        var options = new OpenAIClientOptions
        {
            Endpoint = new Uri("http://codec.invalid/v1"),
            RetryPolicy = new ClientRetryPolicy(0),
            Transport = new HttpClientPipelineTransport(new HttpClient(new Handler(this))),
        };
        _client = new OpenAI.Chat.ChatClient(model, new ApiKeyCredential("unused"), options).AsIChatClient();
    }

    /// <summary>The body a synchronous call would send for <paramref name="request"/>.</summary>
    public async Task<string> RenderAsync(BatchChatRequest request, CancellationToken cancellationToken)
    {
        var exchange = new Exchange(Placeholder);
        _exchange.Value = exchange;
        await _client.GetResponseAsync(request.Messages, request.Options, cancellationToken).ConfigureAwait(false);
        return exchange.RequestBody ?? throw new InvalidOperationException("the OpenAI SDK sent no request body");
    }

    /// <summary>The response a synchronous call for <paramref name="request"/> would return had the server answered <paramref name="completion"/>.</summary>
    public async Task<ChatResponse> ReadAsync(BatchChatRequest request, string completion, CancellationToken cancellationToken)
    {
        _exchange.Value = new Exchange(completion);
        return await _client.GetResponseAsync(request.Messages, request.Options, cancellationToken).ConfigureAwait(false);
    }

    private sealed class Exchange(string responseBody)
    {
        public string ResponseBody { get; } = responseBody;

        public string? RequestBody { get; set; }
    }

    private sealed class Handler(ChatCompletionCodec codec) : HttpMessageHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var exchange = codec._exchange.Value ?? throw new InvalidOperationException("the codec's client was called outside RenderAsync/ReadAsync");
            exchange.RequestBody = request.Content is null ? null : await request.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            return new HttpResponseMessage(HttpStatusCode.OK)
            {
                RequestMessage = request,
                Content = new StringContent(exchange.ResponseBody, Encoding.UTF8, "application/json"),
            };
        }
    }
}
