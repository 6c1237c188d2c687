using System.Runtime.CompilerServices;

namespace Distil.Engine.Text.Constraints;

/// <summary>
/// A compiled JSON schema as a byte-level pushdown matcher. The state is a small stack of
/// <see cref="GrammarFrame"/>s; <see cref="Feed"/> moves it over one byte or rejects the byte, and
/// <see cref="Need"/> gives the fewest bytes that finish a complete document from it.
/// </summary>
/// <remarks>
/// Each grammar kind has its own Feed method that sees only the top frame and answers with a <see cref="Step"/>.
/// Runs once per trie node when a mask is computed, so nothing here allocates, and the per-kind methods are
/// inlined into <see cref="Feed"/>'s loop.
/// </remarks>
internal sealed class JsonGrammar
{
    /// <summary>Digits allowed in a number's integer part and in its fraction; keeps every number finite.</summary>
    public const int MaxNumberDigits = 15;

    public const int MaxExponentDigits = 2;

    private readonly GrammarNode[] _nodes;

    public JsonGrammar(GrammarNode[] nodes, int root, int maxFrames)
    {
        _nodes = nodes;
        Root = root;
        MaxFrames = maxFrames;
    }

    public int Root { get; }

    /// <summary>The deepest the frame stack can get.</summary>
    public int MaxFrames { get; }

    public GrammarNode this[int node] => _nodes[node];

    /// <summary>What the top frame did with the byte.</summary>
    private enum Step : byte
    {
        Rejected,

        /// <summary>The byte is used up.</summary>
        Consumed,

        /// <summary>The byte is for the frame now on top: a child was entered, or this value ended just before it.</summary>
        Forward,
    }

    /// <summary>Consumes <paramref name="b"/>; false when no document continues with it (the stack is then garbage).</summary>
    public bool Feed(Span<GrammarFrame> stack, ref int depth, byte b)
    {
        var frames = new FrameStack(stack, ref depth);
        while (!frames.IsEmpty)
        {
            ref var f = ref frames.Top;
            var node = _nodes[f.Node];
            var step = node.Kind switch
            {
                GrammarKind.Sequence => FeedSequence(ref frames, ref f, node, b),
                GrammarKind.Array => FeedArray(ref frames, ref f, node, b),
                GrammarKind.Map => FeedMap(ref frames, ref f, node, b),
                GrammarKind.String => FeedString(ref frames, ref f, node, b),
                GrammarKind.Integer => FeedInteger(ref frames, ref f, node, b),
                GrammarKind.Number => FeedNumber(ref frames, ref f, b),
                GrammarKind.Literals => FeedLiterals(ref frames, ref f, node, b),
                GrammarKind.AnyOf => FeedAnyOf(ref f, node, b),
                _ => Step.Rejected,
            };
            if (step != Step.Forward)
            {
                return step == Step.Consumed;
            }
        }
        return false;
    }

    /// <summary>The byte closes the top value.</summary>
    private static Step Finish(ref FrameStack frames)
    {
        frames.Pop();
        return Step.Consumed;
    }

    /// <summary>The top value ended just before the byte, which goes to the value around it.</summary>
    private static Step FinishBefore(ref FrameStack frames)
    {
        frames.Pop();
        return Step.Forward;
    }

    /// <summary>The byte starts a value of node <paramref name="child"/>.</summary>
    private static Step Enter(ref FrameStack frames, int child)
    {
        frames.Push(child);
        return Step.Forward;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Step FeedSequence(ref FrameStack frames, ref GrammarFrame f, GrammarNode node, byte b)
    {
        var item = node.Items[f.Pos];
        if (item.Literal is not { } literal)
        {
            // The parent moves past the value item first, and when it was the last item the parent is done before
            // the child starts, which keeps the stack shallow.
            NextItem(ref frames, ref f, node);
            return Enter(ref frames, item.Child);
        }
        if (literal[f.Count] != b)
        {
            return Step.Rejected;
        }
        if (++f.Count == literal.Length)
        {
            f.Count = 0;
            NextItem(ref frames, ref f, node);
        }
        return Step.Consumed;
    }

    private static void NextItem(ref FrameStack frames, ref GrammarFrame f, GrammarNode node)
    {
        if (++f.Pos == node.Items.Length)
        {
            frames.Pop();
        }
    }

    private static class ArrayPhase
    {
        public const int BeforeOpen = 0, AfterOpen = 1, AfterItem = 2, AfterComma = 3, OnlyClose = 4;
    }

    /// <summary>Count is the number of items begun.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Step FeedArray(ref FrameStack frames, ref GrammarFrame f, GrammarNode node, byte b)
    {
        switch (f.Pos)
        {
            case ArrayPhase.BeforeOpen when b == '[':
                f.Pos = node.MaxItems == 0 ? ArrayPhase.OnlyClose : ArrayPhase.AfterOpen;
                return Step.Consumed;
            case ArrayPhase.AfterOpen when b == ']' && node.MinItems == 0:
            case ArrayPhase.AfterItem when b == ']' && f.Count >= node.MinItems:
            case ArrayPhase.OnlyClose when b == ']':
                return Finish(ref frames);
            case ArrayPhase.AfterOpen or ArrayPhase.AfterComma:
                f.Pos = ArrayPhase.AfterItem;
                f.Count++;
                return Enter(ref frames, node.Child);
            case ArrayPhase.AfterItem when b == ',' && f.Count < node.MaxItems:
                f.Pos = ArrayPhase.AfterComma;
                return Step.Consumed;
            default:
                return Step.Rejected;
        }
    }

    private static class MapPhase
    {
        public const int BeforeOpen = 0, AfterOpen = 1, AfterKey = 2, AfterColon = 3, AfterValue = 4, AfterComma = 5;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Step FeedMap(ref FrameStack frames, ref GrammarFrame f, GrammarNode node, byte b)
    {
        switch (f.Pos)
        {
            case MapPhase.BeforeOpen when b == '{':
                f.Pos = MapPhase.AfterOpen;
                return Step.Consumed;
            case MapPhase.AfterOpen or MapPhase.AfterValue when b == '}':
                return Finish(ref frames);
            case MapPhase.AfterOpen or MapPhase.AfterComma:
                f.Pos = MapPhase.AfterKey;
                return Enter(ref frames, node.Key);
            case MapPhase.AfterKey when b == ':':
                f.Pos = MapPhase.AfterColon;
                return Step.Consumed;
            case MapPhase.AfterColon:
                f.Pos = MapPhase.AfterValue;
                return Enter(ref frames, node.Child);
            case MapPhase.AfterValue when b == ',':
                f.Pos = MapPhase.AfterComma;
                return Step.Consumed;
            default:
                return Step.Rejected;
        }
    }

    private static class StringPhase
    {
        public const int BeforeQuote = 0, InContent = 1, AfterBackslash = 2, InUnicodeEscape = 3, InUtf8 = 4;
    }

    /// <summary>Count is the number of characters so far; Value holds a pending UTF-8 sequence or \u escape.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Step FeedString(ref FrameStack frames, ref GrammarFrame f, GrammarNode node, byte b)
    {
        switch (f.Pos)
        {
            case StringPhase.BeforeQuote when b == '"':
                f.Pos = StringPhase.InContent;
                return Step.Consumed;
            case StringPhase.InContent:
                return b == '"' ? (f.Count < node.MinChars ? Step.Rejected : Finish(ref frames)) : StringContent(ref f, node, b);
            case StringPhase.InUtf8:
                return Utf8Continuation(ref f, b);
            case StringPhase.AfterBackslash:
                return EscapeLetter(ref f, b);
            case StringPhase.InUnicodeEscape:
                return UnicodeEscapeDigit(ref f, b);
            default:
                return Step.Rejected;
        }
    }

    private static Step StringContent(ref GrammarFrame f, GrammarNode node, byte b)
    {
        if (f.Count >= node.MaxChars || b < 0x20)
        {
            return Step.Rejected;
        }
        if (b == '\\')
        {
            f.Pos = StringPhase.AfterBackslash;
            return Step.Consumed;
        }
        if (b < 0x80)
        {
            f.Count++;
            return Step.Consumed;
        }
        var (more, low, high) = Utf8Rules.Lead(b);
        if (more == 0)
        {
            return Step.Rejected;
        }
        f.Count++;
        f.Pos = StringPhase.InUtf8;
        f.Value = Utf8State(more, low, high);
        return Step.Consumed;
    }

    private static Step Utf8Continuation(ref GrammarFrame f, byte b)
    {
        var left = (int)(f.Value >> 16);
        if (b < ((f.Value >> 8) & 0xFF) || b > (f.Value & 0xFF))
        {
            return Step.Rejected;
        }
        if (--left == 0)
        {
            f.Pos = StringPhase.InContent;
            f.Value = 0;
        }
        else
        {
            f.Value = Utf8State(left, 0x80, 0xBF);
        }
        return Step.Consumed;
    }

    private static Step EscapeLetter(ref GrammarFrame f, byte b)
    {
        if (b is (byte)'"' or (byte)'\\' or (byte)'/' or (byte)'b' or (byte)'f' or (byte)'n' or (byte)'r' or (byte)'t')
        {
            f.Count++;
            f.Pos = StringPhase.InContent;
            return Step.Consumed;
        }
        if (b == 'u')
        {
            f.Pos = StringPhase.InUnicodeEscape;
            f.Value = 0;
            return Step.Consumed;
        }
        return Step.Rejected;
    }

    private static Step UnicodeEscapeDigit(ref GrammarFrame f, byte b)
    {
        // \uXXXX: Value's low bits count hex digits read, bit 8 marks a first digit of D, after which only 0-7 may
        // follow so that no lone surrogate (D800-DFFF) is ever written.
        var digits = (int)(f.Value & 0xFF);
        var startsWithD = (f.Value & 0x100) != 0;
        if (!IsHex(b) || (digits == 1 && startsWithD && b is not (>= (byte)'0' and <= (byte)'7')))
        {
            return Step.Rejected;
        }
        if (digits == 0 && b is (byte)'d' or (byte)'D')
        {
            startsWithD = true;
        }
        digits++;
        if (digits == 4)
        {
            f.Count++;
            f.Pos = StringPhase.InContent;
            f.Value = 0;
        }
        else
        {
            f.Value = digits | (startsWithD ? 0x100 : 0);
        }
        return Step.Consumed;
    }

    private static long Utf8State(int more, int low, int high) => ((long)more << 16) | ((long)low << 8) | (uint)high;

    private static bool IsHex(byte b) => b is >= (byte)'0' and <= (byte)'9' or >= (byte)'a' and <= (byte)'f' or >= (byte)'A' and <= (byte)'F';

    private static class IntegerPhase
    {
        public const int Start = 0, AfterMinus = 1, Digits = 2, NegativeDigits = 3;
    }

    /// <summary>Value is the magnitude read so far and Count its digits; the range rules out what cannot end inside it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Step FeedInteger(ref FrameStack frames, ref GrammarFrame f, GrammarNode node, byte b)
    {
        var range = node.Range!;
        var digit = b - '0';
        var isDigit = (uint)digit <= 9;
        switch (f.Pos)
        {
            case IntegerPhase.Start when b == '-' && range.AllowsNegative:
                f.Pos = IntegerPhase.AfterMinus;
                return Step.Consumed;
            case IntegerPhase.Start when isDigit && range.Feasible(false, digit, 1):
                return FirstDigit(ref f, IntegerPhase.Digits, digit);
            case IntegerPhase.AfterMinus when isDigit && digit != 0 && range.Feasible(true, digit, 1):
                return FirstDigit(ref f, IntegerPhase.NegativeDigits, digit);
            case IntegerPhase.Digits or IntegerPhase.NegativeDigits:
                {
                    var negative = f.Pos == IntegerPhase.NegativeDigits;
                    if (isDigit && f.Value != 0 && f.Count < IntegerRange.MaxDigits && range.Feasible(negative, f.Value * 10 + digit, f.Count + 1))
                    {
                        f.Value = f.Value * 10 + digit;
                        f.Count++;
                        return Step.Consumed;
                    }
                    return range.Contains(negative ? -f.Value : f.Value) ? FinishBefore(ref frames) : Step.Rejected;
                }
            default:
                return Step.Rejected;
        }
    }

    private static Step FirstDigit(ref GrammarFrame f, int phase, int digit)
    {
        f.Pos = phase;
        f.Value = digit;
        f.Count = 1;
        return Step.Consumed;
    }

    private static class NumberPhase
    {
        public const int Start = 0, AfterMinus = 1, IntegerDigits = 2, AfterPoint = 3, FractionDigits = 4, AfterE = 5, AfterExponentSign = 6, ExponentDigits = 7;
    }

    /// <summary>Count is the digits in the current part; in the integer part Value is 1 after a leading zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Step FeedNumber(ref FrameStack frames, ref GrammarFrame f, byte b)
    {
        var isDigit = (uint)(b - '0') <= 9;
        switch (f.Pos)
        {
            case NumberPhase.Start when b == '-':
                f.Pos = NumberPhase.AfterMinus;
                return Step.Consumed;
            case NumberPhase.Start or NumberPhase.AfterMinus when isDigit:
                f.Pos = NumberPhase.IntegerDigits;
                f.Value = b == '0' ? 1 : 0;
                f.Count = 1;
                return Step.Consumed;
            case NumberPhase.IntegerDigits when isDigit && f.Value == 0 && f.Count < MaxNumberDigits:
            case NumberPhase.FractionDigits when isDigit && f.Count < MaxNumberDigits:
            case NumberPhase.ExponentDigits when isDigit && f.Count < MaxExponentDigits:
                f.Count++;
                return Step.Consumed;
            case NumberPhase.IntegerDigits when b == '.':
                f.Pos = NumberPhase.AfterPoint;
                return Step.Consumed;
            case NumberPhase.AfterPoint when isDigit:
                f.Pos = NumberPhase.FractionDigits;
                f.Count = 1;
                return Step.Consumed;
            case NumberPhase.IntegerDigits or NumberPhase.FractionDigits when b is (byte)'e' or (byte)'E':
                f.Pos = NumberPhase.AfterE;
                return Step.Consumed;
            case NumberPhase.AfterE when b is (byte)'+' or (byte)'-':
                f.Pos = NumberPhase.AfterExponentSign;
                return Step.Consumed;
            case NumberPhase.AfterE or NumberPhase.AfterExponentSign when isDigit:
                f.Pos = NumberPhase.ExponentDigits;
                f.Count = 1;
                return Step.Consumed;
            case NumberPhase.IntegerDigits or NumberPhase.FractionDigits or NumberPhase.ExponentDigits:
                return FinishBefore(ref frames);
            default:
                return Step.Rejected;
        }
    }

    /// <summary>Pos is the node reached in the literal trie (0: nothing read yet).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Step FeedLiterals(ref FrameStack frames, ref GrammarFrame f, GrammarNode node, byte b)
    {
        var trie = node.Literals!;
        var child = trie.Next(f.Pos, b);
        if (child != 0)
        {
            f.Pos = child;
            return trie.HasChildren[child] ? Step.Consumed : Finish(ref frames);
        }
        // A literal that is a prefix of another ("1" and "12") ends only when the next byte continues neither.
        return f.Pos != 0 && trie.Terminal[f.Pos] ? FinishBefore(ref frames) : Step.Rejected;
    }

    /// <summary>The first byte picks the alternative, which takes the frame's place.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Step FeedAnyOf(ref GrammarFrame f, GrammarNode node, byte b)
    {
        var alternative = node.AlternativeByFirstByte[b];
        if (alternative < 0)
        {
            return Step.Rejected;
        }
        f = new GrammarFrame(alternative);
        return Step.Forward;
    }

    /// <summary>
    /// Whether the frame is inside a string's content between characters, where any plain character may follow:
    /// then <paramref name="room"/> more characters fit and <paramref name="missing"/> are still required.
    /// </summary>
    public bool InStringContent(in GrammarFrame f, out int room, out int missing)
    {
        var node = _nodes[f.Node];
        if (node.Kind != GrammarKind.String || f.Pos != StringPhase.InContent)
        {
            room = missing = 0;
            return false;
        }
        room = node.MaxChars == int.MaxValue ? int.MaxValue : node.MaxChars - f.Count;
        missing = Math.Max(0, node.MinChars - f.Count);
        return true;
    }

    /// <summary>The fewest bytes that turn this state into a complete document.</summary>
    public int Need(ReadOnlySpan<GrammarFrame> stack)
    {
        var total = 0;
        foreach (ref readonly var f in stack)
        {
            total += FrameNeed(in f);
        }
        return total;
    }

    private int FrameNeed(in GrammarFrame f)
    {
        var node = _nodes[f.Node];
        switch (node.Kind)
        {
            case GrammarKind.Sequence:
                {
                    var item = node.Items[f.Pos];
                    return item.Literal is { } literal ? literal.Length - f.Count + node.SuffixMin[f.Pos + 1] : node.SuffixMin[f.Pos];
                }
            case GrammarKind.Array:
                {
                    var itemMin = _nodes[node.Child < 0 ? 0 : node.Child].MinLength;
                    return f.Pos switch
                    {
                        ArrayPhase.BeforeOpen => node.MinLength,
                        ArrayPhase.AfterOpen => node.MinItems == 0 ? 1 : node.MinItems * (itemMin + 1),
                        ArrayPhase.AfterItem => Math.Max(0, node.MinItems - f.Count) * (itemMin + 1) + 1,
                        ArrayPhase.AfterComma => Math.Max(1, node.MinItems - f.Count) * (itemMin + 1),
                        _ => 1,
                    };
                }
            case GrammarKind.String:
                {
                    var missing = Math.Max(0, node.MinChars - f.Count);
                    return f.Pos switch
                    {
                        StringPhase.BeforeQuote => node.MinLength,
                        StringPhase.InContent => missing + 1,
                        StringPhase.AfterBackslash => 1 + Math.Max(0, missing - 1) + 1,
                        StringPhase.InUtf8 => (int)(f.Value >> 16) + missing + 1,
                        _ => (4 - (int)(f.Value & 0xFF)) + Math.Max(0, missing - 1) + 1,
                    };
                }
            case GrammarKind.Integer:
                return f.Pos switch
                {
                    IntegerPhase.Start => node.MinLength,
                    IntegerPhase.AfterMinus => node.Range!.MinDigitsAfterMinus,
                    _ => node.Range!.ExtraDigits(f.Pos == IntegerPhase.NegativeDigits, f.Value, f.Count),
                };
            case GrammarKind.Number:
                return f.Pos is NumberPhase.IntegerDigits or NumberPhase.FractionDigits or NumberPhase.ExponentDigits ? 0 : 1;
            case GrammarKind.Literals:
                return node.Literals!.MinToEnd[f.Pos];
            case GrammarKind.Map:
                {
                    var entry = _nodes[node.Key].MinLength + 1 + _nodes[node.Child].MinLength;
                    return f.Pos switch
                    {
                        MapPhase.BeforeOpen => 2,
                        MapPhase.AfterOpen or MapPhase.AfterValue => 1,
                        MapPhase.AfterKey => 1 + _nodes[node.Child].MinLength + 1,
                        MapPhase.AfterColon => _nodes[node.Child].MinLength + 1,
                        _ => entry + 1,
                    };
                }
            default:
                return node.MinLength;
        }
    }

    /// <summary>The frame stack of one <see cref="Feed"/> call, with the depth written back to the caller as it changes.</summary>
    private ref struct FrameStack(Span<GrammarFrame> stack, ref int depth)
    {
        private readonly Span<GrammarFrame> _stack = stack;
        private readonly ref int _depth = ref depth;

        public readonly bool IsEmpty => _depth == 0;

        public readonly ref GrammarFrame Top => ref _stack[_depth - 1];

        /// <summary>Starts a value of <paramref name="node"/> above the current top.</summary>
        public readonly void Push(int node) => _stack[_depth++] = new GrammarFrame(node);

        /// <summary>The top value is complete.</summary>
        public readonly void Pop() => _depth--;
    }
}
