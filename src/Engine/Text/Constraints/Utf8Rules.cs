namespace Distil.Engine.Text.Constraints;

/// <summary>Well-formed UTF-8 (RFC 3629): what a lead byte announces, so that output is always valid UTF-8.</summary>
internal static class Utf8Rules
{
    /// <summary>
    /// For a lead byte, how many continuation bytes follow and the allowed range of the first of them (this
    /// excludes overlong forms, surrogates and code points above U+10FFFF); more is 0 for bytes that cannot lead.
    /// </summary>
    public static (int More, int Low, int High) Lead(byte b) => b switch
    {
        >= 0xC2 and <= 0xDF => (1, 0x80, 0xBF),
        0xE0 => (2, 0xA0, 0xBF),
        0xED => (2, 0x80, 0x9F),
        >= 0xE1 and <= 0xEF => (2, 0x80, 0xBF),
        0xF0 => (3, 0x90, 0xBF),
        >= 0xF1 and <= 0xF3 => (3, 0x80, 0xBF),
        0xF4 => (3, 0x80, 0x8F),
        _ => (0, 0, 0),
    };
}
