using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Distil.Server.Security;

/// <summary>
/// Who may use the pages and the API. Without a token only loopback requests are served; with a token
/// every request must carry it (<c>Authorization: Bearer</c>, or the cookie that <c>/?token=</c> sets).
/// </summary>
internal sealed class DashboardAccess
{
    public const string CookieName = "distil_token";

    private readonly byte[]? _token;

    public DashboardAccess(string? token)
    {
        _token = string.IsNullOrEmpty(token) ? null : Encoding.UTF8.GetBytes(token);
    }

    public bool RequiresToken => _token is not null;

    public AccessDecision Decide(HttpContext context)
    {
        if (_token is null)
        {
            return IsLoopback(context.Connection.RemoteIpAddress) ? AccessDecision.Allowed : AccessDecision.Forbidden;
        }

        return Matches(Presented(context)) ? AccessDecision.Allowed : AccessDecision.Unauthorized;
    }

    /// <summary>True when <paramref name="candidate"/> is the token (constant time).</summary>
    public bool Matches(string? candidate) =>
        _token is not null && candidate is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(candidate), _token);

    public static bool IsLoopback(IPAddress? address) =>
        address is null || IPAddress.IsLoopback(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address);

    private static string? Presented(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return header["Bearer ".Length..].Trim();
        }

        return context.Request.Cookies.TryGetValue(CookieName, out var cookie) ? cookie : null;
    }
}

internal enum AccessDecision
{
    Allowed,
    Unauthorized,
    Forbidden,
}
