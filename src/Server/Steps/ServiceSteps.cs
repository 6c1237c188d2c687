using Distil.Pipeline;
using Distil.Steps;

namespace Distil.Server.Steps;

/// <summary>The step types a serve/worker process knows: every built-in type plus the service's own (throttle).</summary>
public static class ServiceSteps
{
    public static StepRegistry CreateRegistry() => BuiltInSteps.CreateRegistry().Register(ThrottleStep.Type);
}
