using Microsoft.Playwright;

namespace Distil.Server.Tests.Infrastructure;

/// <summary>
/// Keeps what a browser test saw: PNGs under <c>artifacts/screenshots/</c> at the repository root (ignored by git), or
/// under <c>$DISTIL_TEST_ARTIFACTS/screenshots/</c>, for CI to collect.
/// </summary>
public static class Screenshots
{
    public static string Folder
    {
        get
        {
            var root = Environment.GetEnvironmentVariable("DISTIL_TEST_ARTIFACTS") is { Length: > 0 } configured
                ? configured
                : Path.Combine(TestRepository.Root, "artifacts");
            return Path.Combine(root, "screenshots");
        }
    }

    public static async Task<string> TakeAsync(IPage page, string name)
    {
        var path = Path.Combine(Folder, name + ".png");
        Directory.CreateDirectory(Folder);
        await page.ScreenshotAsync(new() { Path = path, FullPage = true });
        return path;
    }
}
