using System.Net;
using Microsoft.AspNetCore.Http;

namespace Distil.Server.Security;

/// <summary>Refuses to listen beyond loopback unless a dashboard token is set.</summary>
internal static class BindingPolicy
{
    /// <summary>
    /// The addresses Kestrel will bind for these <c>--urls</c> values: ASP.NET Core splits its "urls" setting
    /// on ';', so one value may hold several. The host is given this list, so the check and the server read the same.
    /// </summary>
    public static IReadOnlyList<string> ListenAddresses(IEnumerable<string> urls) =>
        urls.SelectMany(u => u.Split(';', StringSplitOptions.RemoveEmptyEntries)).ToList();

    public static void Check(IEnumerable<string> addresses, string? token)
    {
        if (!string.IsNullOrEmpty(token))
        {
            return;
        }

        foreach (var address in addresses)
        {
            if (!IsLoopbackUrl(address))
            {
                throw new ServiceConfigurationException(
                    $"refusing to listen on {address} without a dashboard token: set {ServiceOptions.TokenVariable}, or bind to 127.0.0.1");
            }
        }
    }

    /// <summary>
    /// Decided as Kestrel decides what to bind: "localhost" is loopback, an IP literal is itself, and any other
    /// host (a name, *, +) means every interface. Anything that does not parse counts as not loopback.
    /// </summary>
    public static bool IsLoopbackUrl(string url)
    {
        BindingAddress parsed;
        try
        {
            parsed = BindingAddress.Parse(url);
        }
        catch (FormatException)
        {
            return false;
        }

        if (parsed.IsUnixPipe)
        {
            return true; // a Unix socket is reachable from this machine only
        }

        return string.Equals(parsed.Host, "localhost", StringComparison.OrdinalIgnoreCase)
            || (IPAddress.TryParse(parsed.Host, out var address) && IPAddress.IsLoopback(address));
    }
}
