using System.Text.Json;

namespace Distil.Pipeline;

/// <summary>
/// Strings (values and keys) that no later step can use safely: a lone UTF-16 surrogate (<c>"\ud800"</c>),
/// which .NET refuses to turn into a string, and a NUL character, which no path or prompt means.
/// </summary>
internal static class DefinitionStrings
{
    /// <summary>What is wrong with the current string token, or null. Unescaped text was already checked as UTF-8 by the reader, and a raw NUL is not valid JSON.</summary>
    public static string? Problem(ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped)
        {
            return null;
        }

        try
        {
            return reader.GetString()!.Contains('\0') ? "a NUL character (\\u0000)" : null;
        }
        catch (InvalidOperationException)
        {
            return "a lone surrogate escape such as \\ud800 (half of a UTF-16 pair)";
        }
    }

    /// <summary>The key as written, or a placeholder when it cannot be a string (the problem is reported separately).</summary>
    public static string Name(ref Utf8JsonReader reader)
    {
        try
        {
            return reader.GetString()!;
        }
        catch (InvalidOperationException)
        {
            return "<invalid key>";
        }
    }
}
