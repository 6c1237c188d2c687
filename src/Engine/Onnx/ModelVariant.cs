using Distil.Engine.Model;

namespace Distil.Engine.Onnx;

/// <summary>
/// Which ONNX file of a model folder to run. Optimum writes <c>onnx/model.onnx</c> (or <c>model.onnx</c>);
/// transformers.js / onnx-community folders carry precision variants next to it (<c>onnx/model_q4.onnx</c>, …),
/// picked by name; ONNX Runtime GenAI folders name their file in genai_config.json (model.decoder.filename).
/// Without a variant the full-precision file is used.
/// </summary>
public static class ModelVariant
{
    /// <summary>Variant name → file name, as transformers.js names its dtypes.</summary>
    public static IReadOnlyDictionary<string, string> Files { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["fp32"] = "model.onnx",
        ["fp16"] = "model_fp16.onnx",
        ["q4"] = "model_q4.onnx",
        ["q4f16"] = "model_q4f16.onnx",
        ["int8"] = "model_int8.onnx",
        ["uint8"] = "model_uint8.onnx",
        ["quantized"] = "model_quantized.onnx",
        ["bnb4"] = "model_bnb4.onnx",
    };

    /// <summary>The model file of <paramref name="folder"/> for <paramref name="variant"/> (null = full precision).</summary>
    /// <exception cref="ArgumentException">The variant is not a known name.</exception>
    /// <exception cref="ModelFormatException">The file is not in the folder; the message lists the variants that are.</exception>
    internal static string Find(string folder, string? variant, DecoderConfig config)
    {
        if (variant is not null && !Files.ContainsKey(variant))
        {
            throw new ArgumentException($"unknown model variant '{variant}'; choose one of: {string.Join(", ", Files.Keys)}", nameof(variant));
        }

        var genAiFile = variant is null ? config.GenAi?.FileNameInFolder : null;
        if (genAiFile is not null && File.Exists(Path.Combine(folder, genAiFile)))
        {
            return Path.Combine(folder, genAiFile);
        }

        var name = Files[variant ?? "fp32"];
        foreach (var candidate in new[] { Path.Combine(folder, "onnx", name), Path.Combine(folder, name) })
        {
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        var present = Available(folder);
        var hint = present.Count == 0 ? "" : $"; this folder has the variant(s) {string.Join(", ", present)} (choose one with \"variant\" / --variant)";
        var genAiHint = genAiFile is null ? "" : $", and {genAiFile} named by genai_config.json's model.decoder.filename";
        throw new ModelFormatException(Path.Combine(folder, "onnx", name), $"model file not found (looked for onnx/{name} and {name}{genAiHint}){hint}");
    }

    /// <summary>The variants whose files are in <paramref name="folder"/>.</summary>
    public static IReadOnlyList<string> Available(string folder) =>
        Files.Where(v => File.Exists(Path.Combine(folder, "onnx", v.Value)) || File.Exists(Path.Combine(folder, v.Value))).Select(v => v.Key).ToList();
}
