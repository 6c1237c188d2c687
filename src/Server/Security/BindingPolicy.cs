using System.Net;

namespace Distil.Server.Security;

/// <summary>Refuses to listen beyond loopback unless a dashboard token is set.</summary>
public static class BindingPolicy
{
    public static void Check(IEnumerable<string> urls, string? token)
    {
        if (!string.IsNullOrEmpty(token))
        {
            return;
        }

        foreach (var url in urls)
        {
            if (!IsLoopbackUrl(url))
            {
                throw new ServiceConfigurationException(
                    $"refusing to listen on {url} without a dashboard token: set {Hosting.ServiceOptions.TokenVariable}, or bind to 127.0.0.1");
            }
        }
    }

    public static bool IsLoopbackUrl(string url)
    {
        // Kestrel's wildcards (http://*:5080, http://+:5080) parse poorly with Uri; they mean every interface.
        var host = url.Contains("://*", StringComparison.Ordinal) || url.Contains("://+", StringComparison.Ordinal)
            ? "*"
            : Uri.TryCreate(url, UriKind.Absolute, out var uri) ? uri.Host : url;
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        return IPAddress.TryParse(host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address);
    }
}
