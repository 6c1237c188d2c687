using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>Registers every step type Distil ships.</summary>
public static class BuiltInSteps
{
    /// <param name="hub">Settings of load_hub from outside the definition (--hub-endpoint, --hub-cache); null: the defaults.</param>
    public static StepRegistry CreateRegistry(HubSourceSettings? hub = null)
    {
        var registry = new StepRegistry { ModelValidator = ModelCatalog.Validate };
        SourceSteps.Register(registry, hub);
        TransformSteps.Register(registry);
        SinkSteps.Register(registry);
        TaskSteps.Register(registry);
        HubSteps.Register(registry);
        return registry;
    }
}
