using System.Net;
using Distil.Server.Security;
using Microsoft.AspNetCore.Http;

namespace Distil.Server.Tests;

/// <summary>The access rule itself, decided from the request's remote address and credentials.</summary>
public sealed class DashboardAccessTests
{
    [Theory]
    [InlineData("127.0.0.1", nameof(AccessDecision.Allowed))]
    [InlineData("::1", nameof(AccessDecision.Allowed))]
    [InlineData("::ffff:127.0.0.1", nameof(AccessDecision.Allowed))]
    [InlineData("192.0.2.10", nameof(AccessDecision.Forbidden))]
    [InlineData("10.1.2.3", nameof(AccessDecision.Forbidden))]
    // The decision travels by name: AccessDecision is internal to the server, and a public test method cannot take it.
    public void Without_a_token_only_loopback_requests_are_served(string remote, string expected) =>
        Assert.Equal(Enum.Parse<AccessDecision>(expected), new DashboardAccess(null).Decide(Request(remote)));

    [Fact]
    public void With_a_token_every_request_must_present_it_even_from_loopback()
    {
        var access = new DashboardAccess("s3cret");
        Assert.Equal(AccessDecision.Unauthorized, access.Decide(Request("127.0.0.1")));
        Assert.Equal(AccessDecision.Unauthorized, access.Decide(Request("192.0.2.10", bearer: "wrong")));
        Assert.Equal(AccessDecision.Allowed, access.Decide(Request("192.0.2.10", bearer: "s3cret")));
        Assert.Equal(AccessDecision.Allowed, access.Decide(Request("192.0.2.10", cookie: "s3cret")));
    }

    [Theory]
    [InlineData("http://127.0.0.1:5080", true)]
    [InlineData("http://localhost:5080", true)]
    [InlineData("http://[::1]:5080", true)]
    [InlineData("http://0.0.0.0:5080", false)]
    [InlineData("http://*:5080", false)]
    [InlineData("http://+:5080", false)]
    [InlineData("http://192.0.2.2:5080", false)]
    [InlineData("http://127.9.8.7:5080/", true)]
    [InlineData("https://LOCALHOST:5443", true)]
    [InlineData("http://unix:/tmp/distil.sock", true)]
    [InlineData("http://localhost.evil.example:5080", false)]
    [InlineData("http://127.0.0.1.nip.io:5080", false)]
    [InlineData("not a url", false)]
    public void Loopback_urls_are_told_apart_from_the_rest(string url, bool loopback) =>
        Assert.Equal(loopback, BindingPolicy.IsLoopbackUrl(url));

    [Fact]
    public void A_semicolon_list_is_split_as_kestrel_splits_it_and_each_address_is_checked()
    {
        var addresses = BindingPolicy.ListenAddresses(["http://127.0.0.1:5890/;http://10.77.0.1:5891", "http://[::1]:5892;"]);

        Assert.Equal(["http://127.0.0.1:5890/", "http://10.77.0.1:5891", "http://[::1]:5892"], addresses);
        var refused = Assert.Throws<ServiceConfigurationException>(() => BindingPolicy.Check(addresses, token: null));
        Assert.Contains("http://10.77.0.1:5891", refused.Message);
        BindingPolicy.Check(addresses, token: "set");
        BindingPolicy.Check(BindingPolicy.ListenAddresses(["http://127.0.0.1:1;http://localhost:2"]), token: null);
    }

    private static DefaultHttpContext Request(string remote, string? bearer = null, string? cookie = null)
    {
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Parse(remote);
        if (bearer is not null)
        {
            context.Request.Headers.Authorization = $"Bearer {bearer}";
        }

        if (cookie is not null)
        {
            context.Request.Headers.Cookie = $"{DashboardAccess.CookieName}={cookie}";
        }

        return context;
    }
}
