using System.Text.Json;

namespace Distil.Hub;

/// <summary>One object of an LFS batch answer: no actions means the server already has the bytes.</summary>
internal sealed record LfsObjectActions(string Oid, long Size, LfsAction? Upload, LfsAction? Verify)
{
    public static LfsObjectActions Parse(JsonElement item)
    {
        var oid = item.GetProperty("oid").GetString()!;
        var size = item.TryGetProperty("size", out var s) ? s.GetInt64() : -1;
        if (item.TryGetProperty("error", out var error))
        {
            var message = error.TryGetProperty("message", out var m) ? m.GetString() : error.GetRawText();
            throw new HubPublishException($"LFS batch request: the server refused object {oid}: {message}");
        }

        if (!item.TryGetProperty("actions", out var actions) || actions.ValueKind != JsonValueKind.Object)
        {
            return new LfsObjectActions(oid, size, null, null);
        }

        return new LfsObjectActions(
            oid,
            size,
            actions.TryGetProperty("upload", out var upload) ? LfsAction.Parse(upload) : null,
            actions.TryGetProperty("verify", out var verify) ? LfsAction.Parse(verify) : null);
    }
}

/// <summary>An LFS action: where to send, and the headers to send (for multipart, the chunk size and the part URLs).</summary>
internal sealed record LfsAction(Uri Href, IReadOnlyDictionary<string, string> Header)
{
    public static LfsAction Parse(JsonElement action)
    {
        var header = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (action.TryGetProperty("header", out var h) && h.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in h.EnumerateObject())
            {
                header[property.Name] = property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString()! : property.Value.GetRawText();
            }
        }

        return new LfsAction(new Uri(action.GetProperty("href").GetString()!), header);
    }

    /// <summary>Multipart uploads carry <c>chunk_size</c> and one numbered entry ("00001", …) per part URL.</summary>
    public bool IsMultipart => Header.ContainsKey("chunk_size");

    public long ChunkSize => long.Parse(Header["chunk_size"], System.Globalization.CultureInfo.InvariantCulture);

    public IReadOnlyList<(int Number, Uri Url)> Parts =>
        Header.Where(p => p.Key.Length > 0 && p.Key.All(char.IsAsciiDigit))
            .Select(p => (Number: int.Parse(p.Key, System.Globalization.CultureInfo.InvariantCulture), Url: new Uri(p.Value)))
            .OrderBy(p => p.Number)
            .ToList();

    /// <summary>Headers to send with a basic upload: everything the server gave.</summary>
    public void ApplyHeaders(HttpRequestMessage request)
    {
        foreach (var (name, value) in Header)
        {
            if (!request.Headers.TryAddWithoutValidation(name, value))
            {
                request.Content?.Headers.TryAddWithoutValidation(name, value);
            }
        }
    }
}
