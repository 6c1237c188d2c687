using System.Runtime.InteropServices;
using System.Text;
using System.Threading.Channels;
using Distil.Engine.Text;
using Distil.Engine.Text.Constraints;
using Microsoft.Extensions.AI;

namespace Distil.Engine.Generation;

/// <summary>
/// The text side of one chat request: samples with the request's options and seed (engine-text's
/// <see cref="Sampler"/>), decodes tokens to text as they arrive, ends the request on a stop string
/// (<see cref="StopSequenceMatcher"/>, which withholds the stop itself) and streams the text that is final.
/// With a JSON-schema response format the constraint masks the logits before each draw and ends the request
/// once the document is complete.
/// </summary>
internal sealed class ChatSequenceHandler : ISequenceHandler
{
    private readonly IncrementalDecoder _decoder;
    private readonly Channel<string>? _stream;
    private readonly StringBuilder _text = new();
    private readonly StopSequenceMatcher _stops;
    private readonly Sampler _sampler;
    private readonly ITokenConstraint? _constraint;
    private readonly int _maxNewTokens;
    private int _streamed;
    private bool _finished;

    public ChatSequenceHandler(ModelTokenizer tokenizer, ChatOptions? options, int maxNewTokens, bool streaming)
    {
        _maxNewTokens = maxNewTokens;
        _constraint = Constraint(tokenizer, options?.ResponseFormat);
        _decoder = tokenizer.CreateIncrementalDecoder(skipSpecialTokens: true);
        _stream = streaming ? Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true }) : null;
        _stops = new StopSequenceMatcher(options?.StopSequences?.ToArray());
        var seed = options?.Seed is { } s ? unchecked((ulong)s) : unchecked((ulong)Random.Shared.NextInt64());
        _sampler = new Sampler(SamplingOptions.From(options), seed);
    }

    public ChannelReader<string> Stream => _stream?.Reader ?? throw new InvalidOperationException("not a streaming request");

    public int Choose(Span<float> logits, IReadOnlyList<int> generated)
    {
        _constraint?.ApplyMask(logits, _maxNewTokens - generated.Count);
        // Greedy without a repetition penalty is a plain argmax: take the SIMD one (same id as the sampler's).
        var options = _sampler.Options;
        if (options.IsGreedy && (options.RepetitionPenalty == 1 || generated.Count == 0) && GreedyChoice.IndexOfMax(logits) is >= 0 and var best)
        {
            return best;
        }

        return _sampler.Sample(logits, generated is List<int> list ? CollectionsMarshal.AsSpan(list) : generated.ToArray());
    }

    public bool Accept(int token)
    {
        _constraint?.Advance(token);
        var result = _stops.Push(_decoder.Push(token));
        Append(result.Text);
        if (result.Stopped || _constraint?.IsComplete == true)
        {
            _finished = result.Stopped;
            return true;
        }

        return false;
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

    /// <summary>The token constraint a response format asks for; null for free text.</summary>
    private static ITokenConstraint? Constraint(ModelTokenizer tokenizer, ChatResponseFormat? format)
    {
        if (format is not ChatResponseFormatJson json)
        {
            return null;
        }

        // Without a schema any JSON value will do.
        var schema = json.Schema ?? System.Text.Json.JsonDocument.Parse("{}").RootElement;
        return TokenConstraintCompiler.ForJsonSchema(schema, tokenizer).CreateState();
    }

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
