namespace Distil.Engine.Tests;

public class ProjectBuilds
{
    [Fact]
    public void Step_registry_is_available() => Assert.NotNull(Distil.Steps.BuiltInSteps.CreateRegistry());
}
