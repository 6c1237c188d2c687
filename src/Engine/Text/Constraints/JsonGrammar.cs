namespace Distil.Engine.Text.Constraints;

/// <summary>
/// A compiled JSON schema as a byte-level pushdown matcher. The state is a small stack of
/// <see cref="GrammarFrame"/>s; <see cref="Feed"/> moves it over one byte or rejects the byte, and
/// <see cref="Need"/> gives the fewest bytes that finish a complete document from it.
/// </summary>
internal sealed class JsonGrammar
{
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

    /// <summary>Consumes <paramref name="b"/>; false when no document continues with it (the stack is then garbage).</summary>
    public bool Feed(Span<GrammarFrame> stack, ref int depth, byte b)
    {
        while (depth > 0)
        {
            ref var f = ref stack[depth - 1];
            var node = _nodes[f.Node];
            switch (node.Kind)
            {
                case GrammarKind.Sequence:
                {
                    var item = node.Items[f.Pos];
                    if (item.Literal is { } literal)
                    {
                        if (literal[f.Count] != b)
                        {
                            return false;
                        }
                        if (++f.Count == literal.Length)
                        {
                            f.Count = 0;
                            if (++f.Pos == node.Items.Length)
                            {
                                depth--;
                            }
                        }
                        return true;
                    }
                    // A value item: the parent moves past it, and when it was the last item the parent is done
                    // before the child starts, which keeps the stack shallow.
                    if (++f.Pos == node.Items.Length)
                    {
                        depth--;
                    }
                    stack[depth++] = new GrammarFrame(item.Child);
                    continue;
                }
                case GrammarKind.Array:
                    switch (f.Pos)
                    {
                        case 0:
                            if (b != '[')
                            {
                                return false;
                            }
                            f.Pos = node.MaxItems == 0 ? 4 : 1;
                            return true;
                        case 1:
                            if (b == ']' && node.MinItems == 0)
                            {
                                depth--;
                                return true;
                            }
                            f.Pos = 2;
                            f.Count++;
                            stack[depth++] = new GrammarFrame(node.Child);
                            continue;
                        case 2:
                            if (b == ',' && f.Count < node.MaxItems)
                            {
                                f.Pos = 3;
                                return true;
                            }
                            if (b == ']' && f.Count >= node.MinItems)
                            {
                                depth--;
                                return true;
                            }
                            return false;
                        case 3:
                            f.Pos = 2;
                            f.Count++;
                            stack[depth++] = new GrammarFrame(node.Child);
                            continue;
                        default:
                            if (b != ']')
                            {
                                return false;
                            }
                            depth--;
                            return true;
                    }
                case GrammarKind.String:
                    return FeedString(ref f, node, b, ref depth);
                case GrammarKind.Integer:
                {
                    var range = node.Range!;
                    var digit = b - '0';
                    var isDigit = (uint)digit <= 9;
                    switch (f.Pos)
                    {
                        case 0:
                            if (b == '-' && range.AllowsNegative)
                            {
                                f.Pos = 1;
                                return true;
                            }
                            if (isDigit && range.Feasible(false, digit, 1))
                            {
                                f.Pos = 2;
                                f.Value = digit;
                                f.Count = 1;
                                return true;
                            }
                            return false;
                        case 1:
                            if (isDigit && digit != 0 && range.Feasible(true, digit, 1))
                            {
                                f.Pos = 3;
                                f.Value = digit;
                                f.Count = 1;
                                return true;
                            }
                            return false;
                        default:
                        {
                            var negative = f.Pos == 3;
                            if (isDigit && f.Value != 0 && f.Count < IntegerRange.MaxDigits && range.Feasible(negative, f.Value * 10 + digit, f.Count + 1))
                            {
                                f.Value = f.Value * 10 + digit;
                                f.Count++;
                                return true;
                            }
                            if (!range.Contains(negative ? -f.Value : f.Value))
                            {
                                return false;
                            }
                            depth--;
                            continue;
                        }
                    }
                }
                case GrammarKind.Number:
                {
                    var isDigit = (uint)(b - '0') <= 9;
                    switch (f.Pos)
                    {
                        case 0 when b == '-':
                            f.Pos = 1;
                            return true;
                        case 0 or 1 when isDigit:
                            f.Pos = 2;
                            f.Value = b == '0' ? 1 : 0;
                            f.Count = 1;
                            return true;
                        case 2 when isDigit && f.Value == 0 && f.Count < MaxNumberDigits:
                        case 4 when isDigit && f.Count < MaxNumberDigits:
                        case 7 when isDigit && f.Count < MaxExponentDigits:
                            f.Count++;
                            return true;
                        case 2 when b == '.':
                            f.Pos = 3;
                            return true;
                        case 3 when isDigit:
                            f.Pos = 4;
                            f.Count = 1;
                            return true;
                        case 2 or 4 when b is (byte)'e' or (byte)'E':
                            f.Pos = 5;
                            return true;
                        case 5 when b is (byte)'+' or (byte)'-':
                            f.Pos = 6;
                            return true;
                        case 5 or 6 when isDigit:
                            f.Pos = 7;
                            f.Count = 1;
                            return true;
                        case 2 or 4 or 7:
                            depth--;
                            continue;
                        default:
                            return false;
                    }
                }
                case GrammarKind.Literals:
                {
                    var trie = node.Literals!;
                    var child = trie.Next(f.Pos, b);
                    if (child != 0)
                    {
                        f.Pos = child;
                        if (!trie.HasChildren[child])
                        {
                            depth--;
                        }
                        return true;
                    }
                    if (!trie.Terminal[f.Pos] || f.Pos == 0)
                    {
                        return false;
                    }
                    depth--;
                    continue;
                }
                case GrammarKind.Map:
                    switch (f.Pos)
                    {
                        case 0:
                            if (b != '{')
                            {
                                return false;
                            }
                            f.Pos = 1;
                            return true;
                        case 1 or 4 when b == '}':
                            depth--;
                            return true;
                        case 1 or 5:
                            f.Pos = 2;
                            stack[depth++] = new GrammarFrame(node.Key);
                            continue;
                        case 2:
                            if (b != ':')
                            {
                                return false;
                            }
                            f.Pos = 3;
                            return true;
                        case 3:
                            f.Pos = 4;
                            stack[depth++] = new GrammarFrame(node.Child);
                            continue;
                        case 4 when b == ',':
                            f.Pos = 5;
                            return true;
                        default:
                            return false;
                    }
                case GrammarKind.AnyOf:
                {
                    var alternative = node.AlternativeByFirstByte[b];
                    if (alternative < 0)
                    {
                        return false;
                    }
                    f = new GrammarFrame(alternative);
                    continue;
                }
                default:
                    return false;
            }
        }
        return false;
    }

    /// <summary>Digits allowed in a number's integer part and in its fraction; keeps every number finite.</summary>
    public const int MaxNumberDigits = 15;

    public const int MaxExponentDigits = 2;

    // String phases.
    private const int BeforeQuote = 0, InContent = 1, AfterBackslash = 2, InUnicodeEscape = 3, InUtf8 = 4;

    private static bool FeedString(ref GrammarFrame f, GrammarNode node, byte b, ref int depth)
    {
        switch (f.Pos)
        {
            case BeforeQuote:
                if (b != '"')
                {
                    return false;
                }
                f.Pos = InContent;
                return true;
            case InContent:
                if (b == '"')
                {
                    if (f.Count < node.MinChars)
                    {
                        return false;
                    }
                    depth--;
                    return true;
                }
                if (f.Count >= node.MaxChars || b < 0x20)
                {
                    return false;
                }
                if (b == '\\')
                {
                    f.Pos = AfterBackslash;
                    return true;
                }
                if (b < 0x80)
                {
                    f.Count++;
                    return true;
                }
                var (more, low, high) = Utf8Rules.Lead(b);
                if (more == 0)
                {
                    return false;
                }
                f.Count++;
                f.Pos = InUtf8;
                f.Value = Utf8State(more, low, high);
                return true;
            case InUtf8:
            {
                var left = (int)(f.Value >> 16);
                if (b < ((f.Value >> 8) & 0xFF) || b > (f.Value & 0xFF))
                {
                    return false;
                }
                if (--left == 0)
                {
                    f.Pos = InContent;
                    f.Value = 0;
                }
                else
                {
                    f.Value = Utf8State(left, 0x80, 0xBF);
                }
                return true;
            }
            case AfterBackslash:
                if (b is (byte)'"' or (byte)'\\' or (byte)'/' or (byte)'b' or (byte)'f' or (byte)'n' or (byte)'r' or (byte)'t')
                {
                    f.Count++;
                    f.Pos = InContent;
                    return true;
                }
                if (b == 'u')
                {
                    f.Pos = InUnicodeEscape;
                    f.Value = 0;
                    return true;
                }
                return false;
            default:
            {
                // \uXXXX: Value's low bits count hex digits read, bit 8 marks a first digit of D, after which
                // only 0-7 may follow so that no lone surrogate (D800-DFFF) is ever written.
                var digits = (int)(f.Value & 0xFF);
                var startsWithD = (f.Value & 0x100) != 0;
                if (!IsHex(b) || (digits == 1 && startsWithD && b is not (>= (byte)'0' and <= (byte)'7')))
                {
                    return false;
                }
                if (digits == 0 && b is (byte)'d' or (byte)'D')
                {
                    startsWithD = true;
                }
                digits++;
                if (digits == 4)
                {
                    f.Count++;
                    f.Pos = InContent;
                    f.Value = 0;
                }
                else
                {
                    f.Value = digits | (startsWithD ? 0x100 : 0);
                }
                return true;
            }
        }
    }

    private static long Utf8State(int more, int low, int high) => ((long)more << 16) | ((long)low << 8) | (uint)high;

    private static bool IsHex(byte b) => b is >= (byte)'0' and <= (byte)'9' or >= (byte)'a' and <= (byte)'f' or >= (byte)'A' and <= (byte)'F';

    /// <summary>
    /// Whether the frame is inside a string's content between characters, where any plain character may follow:
    /// then <paramref name="room"/> more characters fit and <paramref name="missing"/> are still required.
    /// </summary>
    public bool InStringContent(in GrammarFrame f, out int room, out int missing)
    {
        var node = _nodes[f.Node];
        if (node.Kind != GrammarKind.String || f.Pos != InContent)
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
                    0 => node.MinLength,
                    1 => node.MinItems == 0 ? 1 : node.MinItems * (itemMin + 1),
                    2 => Math.Max(0, node.MinItems - f.Count) * (itemMin + 1) + 1,
                    3 => Math.Max(1, node.MinItems - f.Count) * (itemMin + 1),
                    _ => 1,
                };
            }
            case GrammarKind.String:
            {
                var missing = Math.Max(0, node.MinChars - f.Count);
                return f.Pos switch
                {
                    BeforeQuote => node.MinLength,
                    InContent => missing + 1,
                    AfterBackslash => 1 + Math.Max(0, missing - 1) + 1,
                    InUtf8 => (int)(f.Value >> 16) + missing + 1,
                    _ => (4 - (int)(f.Value & 0xFF)) + Math.Max(0, missing - 1) + 1,
                };
            }
            case GrammarKind.Integer:
                return f.Pos switch
                {
                    0 => node.MinLength,
                    1 => node.Range!.MinDigitsAfterMinus,
                    _ => node.Range!.ExtraDigits(f.Pos == 3, f.Value, f.Count),
                };
            case GrammarKind.Number:
                return f.Pos is 2 or 4 or 7 ? 0 : 1;
            case GrammarKind.Literals:
                return node.Literals!.MinToEnd[f.Pos];
            case GrammarKind.Map:
            {
                var entry = _nodes[node.Key].MinLength + 1 + _nodes[node.Child].MinLength;
                return f.Pos switch
                {
                    0 => 2,
                    1 or 4 => 1,
                    2 => 1 + _nodes[node.Child].MinLength + 1,
                    3 => _nodes[node.Child].MinLength + 1,
                    _ => entry + 1,
                };
            }
            default:
                return node.MinLength;
        }
    }
}
