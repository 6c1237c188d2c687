using System.Diagnostics;
using System.IO.Compression;
using System.Xml.Linq;

namespace Distil.Library.Tests;

/// <summary><c>dotnet pack</c> turns the library into a NuGet package that brings the rest of Distil with it.</summary>
public sealed class PackageTests : IDisposable
{
    private readonly TempFolder _workspace = new("distil-library");

    public void Dispose() => _workspace.Dispose();

    [Fact]
    public async Task The_Distil_package_names_itself_and_depends_on_the_steps_package()
    {
        // The project is built already (the tests reference it), in the configuration these tests were built in.
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";
        var project = Path.GetDirectoryName(TestRepository.File("src/Distil/Distil.csproj"))!;
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "pack", project, "-c", configuration, "--no-build", "--nologo", "-o", _workspace.Path })
        {
            info.ArgumentList.Add(arg);
        }

        using var pack = Process.Start(info)!;
        var stdout = pack.StandardOutput.ReadToEndAsync();
        var stderr = await pack.StandardError.ReadToEndAsync();
        await pack.WaitForExitAsync();
        Assert.True(pack.ExitCode == 0, $"{await stdout}\n{stderr}");

        var package = Assert.Single(Directory.GetFiles(_workspace.Path, "Distil.*.nupkg"));
        using var zip = ZipFile.OpenRead(package);
        Assert.NotNull(zip.GetEntry("lib/net10.0/Distil.dll"));
        using var nuspec = zip.GetEntry("Distil.nuspec")!.Open();
        var metadata = XDocument.Load(nuspec).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
        string Value(string name) => metadata.Elements().Single(e => e.Name.LocalName == name).Value;
        Assert.Equal("Distil", Value("id"));
        Assert.Contains("IChatClient", Value("description"), StringComparison.Ordinal);
        var dependencies = metadata.Descendants().Where(e => e.Name.LocalName == "dependency").Select(e => e.Attribute("id")!.Value).ToList();
        Assert.Contains("Distil.Steps", dependencies);
    }
}
