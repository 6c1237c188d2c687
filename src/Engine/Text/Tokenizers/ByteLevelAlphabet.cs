namespace Distil.Engine.Text.Tokenizers;

/// <summary>
/// The printable stand-in characters that byte-level BPE vocabularies (GPT-2 lineage, tokenizer.json with a
/// ByteLevel pre-tokenizer) use for raw bytes: bytes that are already visible Latin-1 characters keep their
/// code point, the others (controls, space, soft hyphen…) are moved to 256 and above in byte order.
/// </summary>
internal static class ByteLevelAlphabet
{
    private static readonly char[] ByteToChar = BuildByteToChar();
    private static readonly Dictionary<char, byte> CharToByte = ByteToChar.Select((c, b) => (c, b)).ToDictionary(p => p.c, p => (byte)p.b);

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        var next = 256;
        for (var b = 0; b < 256; b++)
        {
            var visible = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = visible ? (char)b : (char)next++;
        }
        return map;
    }

    public static char Encode(byte b) => ByteToChar[b];

    /// <summary>The bytes a vocabulary entry stands for, or null when it holds a character outside the alphabet.</summary>
    public static byte[]? Decode(string token)
    {
        var bytes = new byte[token.Length];
        for (var i = 0; i < token.Length; i++)
        {
            if (!CharToByte.TryGetValue(token[i], out bytes[i]))
            {
                return null;
            }
        }
        return bytes;
    }
}
