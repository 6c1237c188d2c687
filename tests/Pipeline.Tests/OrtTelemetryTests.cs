namespace Distil.Pipeline.Tests;

/// <summary>
/// ONNX Runtime 1.31 keeps a device id and an event queue under $HOME/.cache/Microsoft/DeveloperTools/.onnxruntime
/// when telemetry is on. A real generate run, with HOME pointed at an empty folder, shows whether it was.
/// </summary>
public sealed class OrtTelemetryTests : IDisposable
{
    private readonly TestWorkspace _workspace = new();

    [Fact]
    public async Task Telemetry_is_off_by_default_and_on_only_when_opted_in()
    {
        var model = Path.Combine(_workspace.Root, "tiny");
        var build = await DistilProcess.RunAsync(_workspace.Root, "models", "build", "--preset", "tiny", "--seed", "3", "--out", model);
        Assert.True(build.ExitCode == 0, build.Stderr);

        var quietHome = Directory.CreateDirectory(Path.Combine(_workspace.Root, "home-default")).FullName;
        await GenerateAsync(model, quietHome, optIn: false);
        Assert.False(Directory.Exists(TelemetryFolder(quietHome)), "ONNX Runtime wrote telemetry state although Distil turns it off");

        // The opt-in proves the check above can see telemetry when it happens.
        var optInHome = Directory.CreateDirectory(Path.Combine(_workspace.Root, "home-opt-in")).FullName;
        await GenerateAsync(model, optInHome, optIn: true);
        Assert.True(File.Exists(Path.Combine(TelemetryFolder(optInHome), "deviceid")), "DISTIL_ORT_TELEMETRY=1 did not leave ONNX Runtime's telemetry on");
    }

    // ONNX Runtime keeps its telemetry off by itself where one of these says it runs under CI (or its own unit
    // tests); the child must look like a user's machine, or the opt-in could never show.
    private static readonly string[] CiMarkers =
    [
        "CI", "TF_BUILD", "GITHUB_ACTIONS", "GITLAB_CI", "CIRCLECI", "TRAVIS", "JENKINS_URL", "CODEBUILD_BUILD_ID",
        "BUILDKITE", "TEAMCITY_VERSION", "APPVEYOR", "BITBUCKET_BUILD_NUMBER", "ORT_RUNNING_UNIT_TESTS",
    ];

    private async Task GenerateAsync(string model, string home, bool optIn)
    {
        var environment = new Dictionary<string, string?>
        {
            ["HOME"] = home,
            ["DISTIL_ORT_TELEMETRY"] = optIn ? "1" : null,
            ["ORT_DISABLE_TELEMETRY"] = null,
            ["ORT_TELEMETRY_DISABLED"] = null,
        };
        foreach (var marker in CiMarkers)
        {
            environment[marker] = null;
        }

        using var process = DistilProcess.Start(_workspace.Root, environment, "generate", "--model", model, "--prompt", "Hi", "--max-new-tokens", "2", "--temperature", "0");
        var (exit, _, stderr) = await process.WaitAsync();
        Assert.True(exit == 0, stderr);
    }

    private static string TelemetryFolder(string home) => Path.Combine(home, ".cache", "Microsoft", "DeveloperTools", ".onnxruntime");

    public void Dispose() => _workspace.Dispose();
}
