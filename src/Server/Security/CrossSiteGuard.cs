using System.Net;
using Microsoft.AspNetCore.Http;

namespace Distil.Server.Security;

/// <summary>
/// Refuses what a web page on another site can make the user's browser send. Without a token (loopback mode)
/// the <c>Host</c> header must name loopback, so a page whose domain was rebound to 127.0.0.1 reads nothing.
/// Always, a state-changing request (any method but GET, HEAD, OPTIONS, TRACE) must not come from another
/// origin (<c>Origin</c>, <c>Sec-Fetch-Site</c>), and one to the API must carry a JSON body or the
/// <see cref="ClientHeader"/>, which a cross-site form cannot send without a CORS preflight this server never grants.
/// </summary>
internal sealed class CrossSiteGuard(RequestDelegate next, DashboardAccess access)
{
    /// <summary>Sent by the CLI (and any script) on bodiless API calls such as cancel and trigger.</summary>
    public const string ClientHeader = "X-Distil-Client";

    public async Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        if (!access.RequiresToken && !IsLoopbackHost(request.Host))
        {
            await RefuseAsync(context, StatusCodes.Status400BadRequest,
                $"Host '{request.Host}' is not loopback: without {ServiceOptions.TokenVariable} this server answers only to localhost, 127.x.x.x and [::1]");
            return;
        }

        if (!IsStateChanging(request.Method))
        {
            await next(context);
            return;
        }

        if (CrossOriginReason(request) is { } reason)
        {
            await RefuseAsync(context, StatusCodes.Status403Forbidden, $"cross-site request refused: {reason}");
            return;
        }

        if (request.Path.StartsWithSegments("/api") && !request.HasJsonContentType() && !request.Headers.ContainsKey(ClientHeader))
        {
            await RefuseAsync(context, StatusCodes.Status403Forbidden,
                $"a {request.Method} to the API needs a JSON body (Content-Type: application/json) or the {ClientHeader} header");
            return;
        }

        await next(context);
    }

    public static bool IsLoopbackHost(HostString host)
    {
        if (!host.HasValue)
        {
            return false;
        }

        var name = host.Host;
        return name.Equals("localhost", StringComparison.OrdinalIgnoreCase)
            || (IPAddress.TryParse(name.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));
    }

    private static bool IsStateChanging(string method) =>
        !(HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method) || HttpMethods.IsTrace(method));

    /// <summary>Why the browser says this request comes from elsewhere, or null. Clients that are not browsers send neither header.</summary>
    private static string? CrossOriginReason(HttpRequest request)
    {
        // same-site is not enough: http://localhost:3000 and this server are the same site.
        var fetchSite = request.Headers["Sec-Fetch-Site"].ToString();
        if (fetchSite.Length > 0 && fetchSite is not ("same-origin" or "none"))
        {
            return $"Sec-Fetch-Site is '{fetchSite}'";
        }

        var origin = request.Headers.Origin.ToString();
        if (origin.Length == 0)
        {
            return null;
        }

        return Uri.TryCreate(origin, UriKind.Absolute, out var uri)
            && uri.Scheme.Equals(request.Scheme, StringComparison.OrdinalIgnoreCase)
            && new HostString(uri.Authority).Equals(request.Host)
                ? null
                : $"Origin '{origin}' is not this server ({request.Scheme}://{request.Host})";
    }

    private static Task RefuseAsync(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(new Api.ErrorResponse(message), Api.ApiJson.Options);
    }
}
