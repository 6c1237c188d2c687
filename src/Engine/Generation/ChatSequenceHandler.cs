using System.Runtime.InteropServices;
using System.Text;
using System.Threading.Channels;
using Distil.Engine.Text;
using Microsoft.Extensions.AI;

namespace Distil.Engine.Generation;

/// <summary>
/// The text side of one chat request: samples with the request's options and seed (engine-text's
/// <see cref="Sampler"/>), decodes tokens to text as they arrive, ends the request on a stop string
/// (<see cref="StopSequenceMatcher"/>, which withholds the stop itself) and streams the text that is final.
/// </summary>
internal sealed class ChatSequenceHandler : ISequenceHandler
{
    private readonly IncrementalDecoder _decoder;
    private readonly Channel<string>? _stream;
    private readonly StringBuilder _text = new();
    private readonly StopSequenceMatcher _stops;
    private readonly Sampler _sampler;
    private int _streamed;
    private bool _finished;

    public ChatSequenceHandler(ModelTokenizer tokenizer, ChatOptions? options, bool streaming)
    {
        _decoder = tokenizer.CreateIncrementalDecoder(skipSpecialTokens: true);
        _stream = streaming ? Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true }) : null;
        _stops = new StopSequenceMatcher(options?.StopSequences?.ToArray());
        var seed = options?.Seed is { } s ? unchecked((ulong)s) : unchecked((ulong)Random.Shared.NextInt64());
        _sampler = new Sampler(SamplingOptions.From(options), seed);
    }

    public ChannelReader<string> Stream => _stream?.Reader ?? throw new InvalidOperationException("not a streaming request");

    public int Choose(Span<float> logits, IReadOnlyList<int> generated) =>
        _sampler.Sample(logits, generated is List<int> list ? CollectionsMarshal.AsSpan(list) : generated.ToArray());

    public bool Accept(int token)
    {
        var result = _stops.Push(_decoder.Push(token));
        Append(result.Text);
        if (result.Stopped)
        {
            _finished = true;
        }

        return result.Stopped;
    }

    /// <summary>The whole answer (a matched stop string left out).</summary>
    public string FinalText()
    {
        if (!_finished)
        {
            _finished = true;
            var result = _stops.Push(_decoder.Flush());
            Append(result.Text);
            if (!result.Stopped)
            {
                Append(_stops.Flush());
            }
        }

        return _text.ToString();
    }

    /// <summary>The part of <see cref="FinalText"/> not streamed yet.</summary>
    public string FinalTextTail()
    {
        var text = FinalText();
        return _streamed < text.Length ? text[_streamed..] : "";
    }

    public void CompleteStream() => _stream?.Writer.TryComplete();

    private void Append(string text)
    {
        if (text.Length == 0)
        {
            return;
        }

        _text.Append(text);
        if (_stream is not null && !_finished)
        {
            _stream.Writer.TryWrite(text);
            _streamed = _text.Length;
        }
    }
}
