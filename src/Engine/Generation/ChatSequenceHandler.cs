using System.Text;
using System.Threading.Channels;
using Distil.Engine.Text;
using Microsoft.Extensions.AI;

namespace Distil.Engine.Generation;

/// <summary>
/// The text side of one chat request: samples with the request's options and seed, decodes tokens to text as
/// they arrive, ends the request on a stop string (which is cut from the text) and streams the text that can
/// no longer become part of a stop string.
/// </summary>
internal sealed class ChatSequenceHandler : ISequenceHandler
{
    private readonly IncrementalDecoder _decoder;
    private readonly Channel<string>? _stream;
    private readonly StringBuilder _text = new();
    private readonly string[] _stops;
    private readonly TemporarySampler _sampler;
    private int _emitted;
    private int _finalLength = -1;

    public ChatSequenceHandler(ModelTokenizer tokenizer, ChatOptions? options, bool streaming)
    {
        _decoder = tokenizer.CreateIncrementalDecoder(skipSpecialTokens: true);
        _stream = streaming ? Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true }) : null;
        _stops = options?.StopSequences?.Where(s => !string.IsNullOrEmpty(s)).ToArray() ?? [];
        _sampler = new TemporarySampler(options?.Temperature ?? 1f, options?.Seed);
    }

    public ChannelReader<string> Stream => _stream?.Reader ?? throw new InvalidOperationException("not a streaming request");

    public int Choose(Span<float> logits, IReadOnlyList<int> generated) => _sampler.Sample(logits);

    public bool Accept(int token)
    {
        _text.Append(_decoder.Push(token));
        var text = _text.ToString();
        foreach (var stop in _stops)
        {
            var at = text.IndexOf(stop, Math.Max(0, _emitted - stop.Length), StringComparison.Ordinal);
            if (at >= 0)
            {
                _finalLength = at;
                Emit(at);
                return true;
            }
        }

        var holdBack = _stops.Length == 0 ? 0 : _stops.Max(s => s.Length) - 1;
        Emit(Math.Max(_emitted, text.Length - holdBack));
        return false;
    }

    /// <summary>The whole answer (stop string removed).</summary>
    public string FinalText()
    {
        if (_finalLength < 0)
        {
            _text.Append(_decoder.Flush());
            _finalLength = _text.Length;
        }

        return _text.ToString(0, _finalLength);
    }

    /// <summary>The part of <see cref="FinalText"/> not streamed yet.</summary>
    public string FinalTextTail()
    {
        var text = FinalText();
        return _emitted < text.Length ? text[_emitted..] : "";
    }

    public void CompleteStream() => _stream?.Writer.TryComplete();

    private void Emit(int upTo)
    {
        if (_stream is not null && upTo > _emitted)
        {
            _stream.Writer.TryWrite(_text.ToString(_emitted, upTo - _emitted));
            _emitted = upTo;
        }
    }

    // TEMPORARY until engine-text's Sampler is merged.
    private sealed class TemporarySampler(float temperature, long? seed)
    {
        private readonly Random _random = seed is { } s ? new Random((int)s) : new Random();

        public int Sample(Span<float> logits)
        {
            var best = 0;
            for (var i = 1; i < logits.Length; i++)
            {
                if (logits[i] > logits[best])
                {
                    best = i;
                }
            }

            if (temperature <= 0)
            {
                return best;
            }

            double sum = 0;
            var max = logits[best];
            for (var i = 0; i < logits.Length; i++)
            {
                sum += Math.Exp((logits[i] - max) / temperature);
            }

            var pick = _random.NextDouble() * sum;
            for (var i = 0; i < logits.Length; i++)
            {
                pick -= Math.Exp((logits[i] - max) / temperature);
                if (pick <= 0)
                {
                    return i;
                }
            }

            return best;
        }
    }
}
