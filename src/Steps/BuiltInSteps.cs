using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>Registers every step type Distil ships.</summary>
public static class BuiltInSteps
{
    public static StepRegistry CreateRegistry()
    {
        var registry = new StepRegistry { ModelValidator = ModelCatalog.Validate };
        SourceSteps.Register(registry);
        TransformSteps.Register(registry);
        SinkSteps.Register(registry);
        TaskSteps.Register(registry);
        HubSteps.Register(registry);
        return registry;
    }
}
