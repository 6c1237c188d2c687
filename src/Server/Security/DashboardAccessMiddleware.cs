using Microsoft.AspNetCore.Http;

namespace Distil.Server.Security;

/// <summary>
/// Guards every path (pages, API, events, /hangfire). <c>/?token=…</c> exchanges a valid token for an
/// HttpOnly cookie and redirects to a URL without it, so the token does not linger in history or logs.
/// </summary>
internal sealed class DashboardAccessMiddleware(RequestDelegate next, DashboardAccess access)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (access.RequiresToken && context.Request.Query.TryGetValue("token", out var offered))
        {
            if (!access.Matches(offered.ToString()))
            {
                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                return;
            }

            context.Response.Cookies.Append(DashboardAccess.CookieName, offered.ToString(), new CookieOptions
            {
                HttpOnly = true,
                SameSite = SameSiteMode.Strict,
                Secure = context.Request.IsHttps,
                Path = "/",
            });
            context.Response.Redirect(context.Request.PathBase + context.Request.Path);
            return;
        }

        switch (access.Decide(context))
        {
            case AccessDecision.Allowed:
                await next(context);
                return;
            case AccessDecision.Unauthorized:
                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                context.Response.Headers.WWWAuthenticate = "Bearer";
                return;
            default:
                context.Response.StatusCode = StatusCodes.Status403Forbidden;
                return;
        }
    }
}
