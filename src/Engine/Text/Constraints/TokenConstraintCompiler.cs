using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Distil.Engine.Text.Constraints;

/// <summary>Compiles output constraints once per schema and tokenizer.</summary>
public static class TokenConstraintCompiler
{
    private static readonly ConditionalWeakTable<ModelTokenizer, ConcurrentDictionary<string, JsonSchemaConstraint>> Compiled = [];

    /// <summary>
    /// The constraint that only lets through compact JSON valid under <paramref name="schema"/> (see
    /// <see cref="JsonSchemaCompiler"/> for the supported subset). Cached by the schema's text.
    /// </summary>
    /// <exception cref="JsonSchemaNotSupportedException">A keyword outside the supported subset, naming it and its path.</exception>
    public static JsonSchemaConstraint ForJsonSchema(JsonElement schema, ModelTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var bySchema = Compiled.GetValue(tokenizer, _ => new ConcurrentDictionary<string, JsonSchemaConstraint>(StringComparer.Ordinal));
        var text = schema.GetRawText();
        if (bySchema.TryGetValue(text, out var cached))
        {
            return cached;
        }
        var compiled = new JsonSchemaConstraint(JsonSchemaCompiler.Compile(schema), tokenizer);
        return bySchema.GetOrAdd(text, compiled);
    }
}
