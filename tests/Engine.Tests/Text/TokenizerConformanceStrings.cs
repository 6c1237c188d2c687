using System.Text;

namespace Distil.Engine.Tests.Text;

/// <summary>
/// Texts the tokenizer conformance tests send through Distil and Hugging Face tokenizers: many scripts, code, digit
/// and whitespace runs, emoji sequences, rare CJK, decomposed (NFD) text and special-token look-alikes, each also
/// with a leading space, a trailing newline and in NFD form.
/// </summary>
internal static class TokenizerConformanceStrings
{
    private static readonly string[] Samples =
    [
        // English and punctuation
        "Hello world", "Hello, world!", "The quick brown fox jumps over the lazy dog.", "I'm sure they'll say we've done it, haven't we?",
        "DON'T SHOUT", "It's 5 o'clock.", "e.g. i.e. etc.", "\"Quoted\" and 'single' and `backticks`", "(parentheses) [brackets] {braces}",
        "state-of-the-art", "mid—dash – en dash … ellipsis", "a", " ", "", "x y z", "ALLCAPS lowercase MiXeD",
        "Dr. Smith's 2nd-floor office (Room 4B) opens at 9:30 a.m.", "Email me at someone@example.com or visit https://example.org/path?q=1&r=2#frag",
        // Code
        "def add(a, b):\n    return a + b\n", "for (int i = 0; i < n; i++) { sum += a[i]; }", "const x = () => { return `${y}`; };",
        "SELECT id, name FROM users WHERE age >= 18 ORDER BY name;", "<div class=\"box\"><p>Hi</p></div>", "{\"key\": [1, 2.5, true, null]}",
        "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 42); }", "if x != None and not y:\n\tpass", "a_b_c = snake_case_name__init__",
        "fn main() -> Result<(), Box<dyn Error>> { Ok(()) }", "$ ls -la | grep '^d' && echo done", "x<<=2; y>>>=3; z**=4; w//=5",
        // Digits
        "1", "12", "123", "1234", "12345", "1234567890", "3.14159265358979323846", "0000000000000000", "1,000,000.00",
        "98765432109876543210987654321", "2024-12-06T04:24:08Z", "+1 (555) 123-4567", "v1.2.3-rc.4", "x1y22z333w4444",
        "٠١٢٣٤٥٦٧٨٩", "१२३४५", "①②③", "Ⅻ", "½ ¾ ⅞",
        // Whitespace runs
        "a  b", "a   b    c", "    indented", "trailing    ", "\t\ttabs\tand\tspaces  ", "line1\nline2", "line1\n\nline3",
        "crlf\r\nline", "\n\n\n", "   \n   \n", " \t \n \r\n ", "nbsp\u00a0here", "ideographic\u3000space", "thin\u2009space",
        "zero\u200bwidth", "em\u2003space",
        // Emoji and ZWJ sequences
        "😀", "I ❤️ NY", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "👩🏾‍💻 codes", "🧑‍🤝‍🧑", "🇫🇷🇯🇵", "1️⃣ #️⃣", "😀😃😄😁😆😅😂🤣",
        "emoji🎉inside", "🫠🫶🪿",
        // CJK including rare characters
        "你好，世界！", "我喜欢学习中文。", "日本語のテキストです。", "カタカナとひらがな", "東京都渋谷区", "한국어 텍스트입니다.", "안녕하세요",
        "𠀀𠀁𠀂", "𪚥 (a rare character)", "𠮷野家", "𡈽𩸽𠀋", "龘靐齉", "々〆〤", "中文English混合123",
        // Korean NFD (conjoining jamo)
        "\u1112\u1161\u11ab\u1100\u116e\u11a8\u110b\u1165", "\u1100\u1161 \u1102\u1161 \u1103\u1161",
        // Vietnamese
        "Chúng tôi đã làm việc cùng nhau nhiều năm.", "Tiếng Việt có dấu", "Người ta nói rằng", "Phở bò tái nạm",
        // Hindi and other Indic
        "नमस्ते दुनिया", "हिन्दी भाषा", "क्षत्रिय", "বাংলা ভাষা", "தமிழ்", "ગુજરાતી",
        // Thai
        "สวัสดีครับ", "ภาษาไทยไม่มีช่องว่างระหว่างคำ", "กรุงเทพมหานคร",
        // Arabic and Hebrew
        "مرحبا بالعالم", "اللغة العربية جميلة", "السَّلَامُ عَلَيْكُمْ", "שלום עולם", "mixed עברית and English",
        // Other scripts
        "Привет, мир!", "Ελληνικά γράμματα", "Ünïcödé àccénts ñ ç ß", "Zażółć gęślą jaźń", "Ærøskøbing", "İstanbul ılık",
        "ქართული", "Հայերեն", "ᐃᓄᒃᑎᑐᑦ", "አማርኛ", "ꦧꦱꦗꦮ", "𝐁𝐨𝐥𝐝 𝑖𝑡𝑎𝑙𝑖𝑐", "ﬁ ﬂ ﬀ", "Å Å Ω Ω", "ｆｕｌｌｗｉｄｔｈ",
        "café café", "e\u0301\u0302\u0303", "\u00e9\u0301",
        // Special-token look-alikes
        "<|begin_of_text|>", "<|eot_id|> after", "<|im_start|>user\nhi<|im_end|>", "<s> hi </s>", "<unk>", "</s>",
        "<|endoftext|>", "<|start_header_id|>assistant<|end_header_id|>", "<| eot_id |>", "<|eot_id", "|eot_id|>", "< s >",
        "<think>reasoning</think>", "<tool_call>{\"name\": \"f\"}</tool_call>", "<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>",
        "<<|im_end|>>", "text<|reserved_special_token_5|>text", "<0x41>", "▁already▁metaspace", "Ġbyte Ċlevel",
        // Odd characters
        "\u0000nul", "\u0007bell", "\u00ad soft hyphen", "\ufeffbom", "\ufffd replacement", "\U0010FFFF", "\ue000 private use",
        "tab\tafter", "back\\slash", "a'b\"c", "'s 't 're 've 'm 'll 'd", "''''", "....", "!!!???", "---===+++",
    ];

    /// <summary>Every sample as is, with a leading space, with a trailing newline, and in NFD (when that differs).</summary>
    public static IReadOnlyList<string> All { get; } = Build();

    private static List<string> Build()
    {
        var all = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        void Add(string s)
        {
            if (seen.Add(s))
            {
                all.Add(s);
            }
        }
        foreach (var sample in Samples)
        {
            Add(sample);
        }
        foreach (var sample in Samples)
        {
            Add(" " + sample);
            Add(sample + "\n");
            Add(sample.Normalize(NormalizationForm.FormD));
        }
        // Long mixed texts, where word splitting and merges meet across scripts.
        Add(string.Join(" ", Samples.Take(40)));
        Add(string.Join("\n", Samples.Skip(40).Take(60)));
        Add(string.Concat(Enumerable.Repeat("na", 200)) + " batman");
        Add(new string('9', 500));
        Add(new string(' ', 300) + "x");
        return all;
    }
}
