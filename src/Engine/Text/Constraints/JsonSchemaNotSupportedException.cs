namespace Distil.Engine.Text.Constraints;

/// <summary>A JSON schema, or one keyword in it, outside the subset constrained decoding supports.</summary>
public sealed class JsonSchemaNotSupportedException(string schemaPath, string reason)
    : Exception($"JSON schema at {schemaPath}: {reason}")
{
    /// <summary>Where in the schema, as a JSON path (<c>$.properties.ratings.items</c>).</summary>
    public string SchemaPath { get; } = schemaPath;

    public string Reason { get; } = reason;
}
