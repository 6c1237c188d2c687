using Hangfire.Dashboard;

namespace Distil.Server.Security;

/// <summary>
/// Replaces Hangfire's local-only default with the same rule as the rest of the site, so /hangfire
/// works remotely with the token and never without it.
/// </summary>
internal sealed class HangfireDashboardAuthorization(DashboardAccess access) : IDashboardAuthorizationFilter
{
    public bool Authorize(DashboardContext context) => access.Decide(context.GetHttpContext()) == AccessDecision.Allowed;
}
