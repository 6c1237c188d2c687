using System.Globalization;
using System.Text.Json;

namespace Distil.Pipeline;

/// <summary>
/// The part of a caching step's batch key that comes from the definition: the step type, its effective
/// parameters in canonical form (comments, formatting and key order do not count; defaults taken are
/// included), its column mappings, and the identity of every model it names. Each batch's key adds the
/// content of the batch's input rows (<see cref="Runtime.BatchCache"/>), which stands for everything upstream —
/// the predecessors' settings, their models and the source data of exactly those rows — so an edit reuses
/// every batch whose inputs and step did not change.
/// </summary>
public static class StepCacheKey
{
    /// <summary>Raised when what a cached batch means changes (its file layout or the key's parts).</summary>
    private const string Version = "distil-step-2";

    /// <summary>
    /// Keys that do not change what a batch computes: where the step sits in the graph is covered by its
    /// input rows, and batch size and parallelism only change how rows are grouped, which the rows themselves
    /// record. A generating source's <c>num_rows</c> only says how many batches there are (each batch's row ids are
    /// in its key), so raising it reuses the batches already written.
    /// </summary>
    private static readonly HashSet<string> Excluded = new(StringComparer.Ordinal)
    {
        "name", "after", "description", "input_batch_size", "max_parallelism", "num_rows",
    };

    public static string Compute(StepDefinition step, IReadOnlyDictionary<string, ModelIdentity> models)
    {
        var element = step.Parameters.Element;
        var named = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var property in element.EnumerateObject().Where(p => !Excluded.Contains(p.Name)))
        {
            CollectModelNames(property.Value, models, named);
        }

        return CanonicalJson.Digest(writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("version", Version);
            writer.WriteString("type", step.Type.Name);
            writer.WriteStartObject("parameters");
            foreach (var property in element.EnumerateObject().Where(p => !Excluded.Contains(p.Name)).OrderBy(p => p.Name, StringComparer.Ordinal))
            {
                writer.WritePropertyName(property.Name);
                CanonicalJson.Write(writer, property.Value);
            }

            writer.WriteEndObject();
            writer.WriteStartObject("defaults");
            foreach (var (name, value) in step.Parameters.DefaultsUsed.Where(d => !Excluded.Contains(d.Key) && !step.Parameters.Has(d.Key)).OrderBy(d => d.Key, StringComparer.Ordinal))
            {
                writer.WriteString(name, Convert.ToString(value, CultureInfo.InvariantCulture));
            }

            writer.WriteEndObject();
            writer.WriteStartObject("models");
            foreach (var name in named)
            {
                writer.WriteString(name, models[name].Digest);
            }

            writer.WriteEndObject();
            writer.WriteEndObject();
        });
    }

    /// <summary>The models a step calls: every string in its parameters that names one.</summary>
    private static void CollectModelNames(JsonElement element, IReadOnlyDictionary<string, ModelIdentity> models, SortedSet<string> named)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String when models.ContainsKey(element.GetString()!):
                named.Add(element.GetString()!);
                break;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    CollectModelNames(property.Value, models, named);
                }

                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    CollectModelNames(item, models, named);
                }

                break;
        }
    }
}
