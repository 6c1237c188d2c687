namespace Distil.Pipeline;

/// <summary>
/// A step that only some kinds of model can serve (magpie needs a local model's chat template). The definition
/// reader asks it about the model its <c>model</c> parameter names, so a mismatch is reported with everything
/// else, at <c>$.steps[i].model</c>, before anything loads.
/// </summary>
public interface IModelRequirement
{
    /// <summary>Null when <paramref name="model"/> (its entry in <c>models</c>) can serve the step; otherwise why not.</summary>
    string? Refuse(string modelName, StepParameters model);
}
