using System.Buffers.Binary;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using SessionLocking.Serialization;

namespace SessionLocking.Tests.Unit;

public class LockedSessionTests
{
    public sealed class Cart
    {
        public List<string> Items { get; set; } = new();
    }

    public sealed class NotAllowed
    {
        public int X { get; set; }
    }

    public sealed class Cyclic
    {
        public Cyclic? Self { get; set; }
    }

    private readonly LockedSessionOptions _options = new LockedSessionOptions().AllowType<Cart>();

    private SessionValueCodec Codec()
    {
        var options = Options.Create(_options);
        return new SessionValueCodec(new JsonSessionValueSerializer(options), options);
    }

    private LockedSession Load(SessionData? data, bool readOnly = false, bool started = false) =>
        new("abcdefghijklmnopqrstuvwx", data, readOnly, SessionStateMode.InProc, Codec(), _options, () => started);

    /// <summary>Stores a session as the middleware would, then loads it again.</summary>
    private LockedSession RoundTrip(Action<LockedSession> write)
    {
        var first = Load(null);
        write(first);
        var changes = first.GetChanges()!;
        return Load(new SessionData(changes.Set, changes.Timeout));
    }

    [Fact]
    public void Migrated_object_code_keeps_working_for_allowed_types()
    {
        var session = RoundTrip(s => s["cart"] = new Cart { Items = { "apple" } });

        var cart = (Cart)session["CART"]!;

        Assert.Equal(new[] { "apple" }, cart.Items);
        Assert.Same(cart, session["cart"]);
    }

    [Fact]
    public void Storing_a_type_that_is_not_allowed_fails_naming_key_and_type()
    {
        var session = Load(null);

        var error = Assert.Throws<SessionSerializationException>(() => session["thing"] = new NotAllowed());

        Assert.Equal("thing", error.Key);
        Assert.Contains("'thing'", error.Message);
        Assert.Contains(SessionLocking.Serialization.TypeNames.CSharp(typeof(NotAllowed)), error.Message);
        Assert.Equal(0, session.Count);
    }

    [Fact]
    public void The_error_for_a_generic_type_says_what_to_write()
    {
        var session = Load(null);

        var error = Assert.Throws<SessionSerializationException>(() => session["carts"] = new List<Cart>());

        Assert.Contains("options.AllowType<List<LockedSessionTests.Cart>>()", error.Message);
    }

    [Fact]
    public void Stored_data_naming_a_type_that_is_not_allowed_is_never_loaded()
    {
        var session = RoundTrip(s => s.Set("thing", new NotAllowed { X = 3 }));

        var error = Assert.Throws<SessionSerializationException>(() => session["thing"]);

        Assert.Contains(typeof(NotAllowed).FullName!, error.Message); // the stored alias: the type itself is never looked up
        Assert.Equal(3, session.Get<NotAllowed>("thing")!.X);
    }

    [Fact]
    public void Unserializable_values_fail_naming_key_and_type()
    {
        var cyclic = new Cyclic();
        cyclic.Self = cyclic;
        var session = Load(null);

        var error = Assert.Throws<SessionSerializationException>(() => session.Set("loop", cyclic));

        Assert.Equal("loop", error.Key);
        Assert.Contains(SessionLocking.Serialization.TypeNames.CSharp(typeof(Cyclic)), error.Message); // as C# writes it
    }

    [Fact]
    public void Corrupt_stored_data_gives_a_clear_error_for_that_key_only()
    {
        var items = new Dictionary<string, byte[]>
        {
            ["bad"] = new byte[] { 9, 9, 9 },
            ["good"] = SessionValueCodec.EncodeRaw(Encoding.UTF8.GetBytes("fine")),
        };
        var session = Load(new SessionData(items, TimeSpan.FromMinutes(20)));

        var error = Assert.Throws<SessionSerializationException>(() => session["bad"]);

        Assert.Contains("corrupt", error.Message);
        Assert.Equal("fine", session.Get<string>("good"));
    }

    [Fact]
    public void Only_changed_and_removed_items_are_written()
    {
        var session = RoundTrip(s =>
        {
            s["a"] = "1";
            s["b"] = 2;
            s["cart"] = new Cart();
        });
        _ = session["a"];
        _ = session["cart"];

        session["b"] = 3;
        session.Remove("a");
        var changes = session.GetChanges()!;

        Assert.Equal(new[] { "b" }, changes.Set.Keys);
        Assert.Equal(new[] { "a" }, changes.Removed);
        Assert.False(changes.IsNew);
    }

    [Fact]
    public void Reading_without_changing_writes_nothing()
    {
        var session = RoundTrip(s =>
        {
            s["cart"] = new Cart { Items = { "x" } };
            s["n"] = 1;
        });
        _ = session["cart"];
        _ = session.Get<Cart>("cart");
        _ = session["n"];

        Assert.Null(session.GetChanges());
    }

    [Fact]
    public void A_change_inside_a_stored_object_is_found_by_comparing_bytes()
    {
        var session = RoundTrip(s => s["cart"] = new Cart());

        ((Cart)session["cart"]!).Items.Add("pear");
        var changes = session.GetChanges()!;

        Assert.Equal(new[] { "cart" }, changes.Set.Keys);
        var reloaded = Load(new SessionData(changes.Set, changes.Timeout));
        Assert.Equal(new[] { "pear" }, ((Cart)reloaded["cart"]!).Items);
    }

    [Fact]
    public void A_value_read_as_a_type_that_lacks_members_is_not_written_until_it_changes()
    {
        var session = Load(StoredCart("""{"Items":["a"],"Coupon":"SAVE10"}"""));

        Assert.Equal(["a"], ((Cart)session["cart"]!).Items);
        Assert.Equal(["a"], session.Get<Cart>("cart")!.Items);
        Assert.Null(session.GetChanges());

        ((Cart)session["cart"]!).Items.Add("b");

        Assert.Equal(["cart"], session.GetChanges()!.Set.Keys);
    }

    [Fact]
    public async Task A_change_undone_before_the_end_of_the_request_writes_nothing()
    {
        var session = Load(StoredCart("""{ "Items": ["a"] }"""));
        var cart = session.Get<Cart>("cart")!;

        cart.Items.Add("b");
        await ((ISession)session).CommitAsync();
        cart.Items.Remove("b");

        Assert.Null(session.GetChanges());
    }

    [Fact]
    public void A_value_read_and_not_changed_is_not_held_to_a_size_limit_lowered_since_it_was_stored()
    {
        var session = Load(StoredCart("""{"Items":["a","b","c","d","e","f","g","h"]}"""));
        _options.MaxValueBytes = 60;

        Assert.Equal(8, session.Get<Cart>("cart")!.Items.Count);

        Assert.Null(session.GetChanges());
        session.Get<Cart>("cart")!.Items.Add("i");
        Assert.Equal("cart", Assert.Throws<SessionSerializationException>(() => session.GetChanges()).Key);
    }

    [Fact]
    public void Assigning_a_value_read_as_a_type_that_lacks_members_writes_it_as_that_type()
    {
        var session = Load(StoredCart("""{"Items":["a"],"Coupon":"SAVE10"}"""));

        session["cart"] = session["cart"];

        var written = session.GetChanges()!.Set["cart"];
        Assert.DoesNotContain("Coupon", Encoding.UTF8.GetString(written), StringComparison.Ordinal);
    }

    /// <summary>A session whose item "cart" is stored under the alias of <see cref="Cart"/> with the given JSON.</summary>
    private SessionData StoredCart(string json)
    {
        var empty = Codec().EncodeTyped("cart", new Cart(), typeof(Cart));
        var header = empty[..(3 + BinaryPrimitives.ReadUInt16BigEndian(empty.AsSpan(1)))];
        return new SessionData(new Dictionary<string, byte[]> { ["cart"] = [.. header, .. Encoding.UTF8.GetBytes(json)] }, TimeSpan.FromMinutes(20));
    }

    [Fact]
    public void A_name_whose_spelling_changed_is_removed_and_set()
    {
        var session = RoundTrip(s => s["Cart"] = "x");

        session.Remove("cart");
        session["CART"] = "x";
        var changes = session.GetChanges()!;

        Assert.Equal(new[] { "Cart" }, changes.Removed);
        Assert.Equal(new[] { "CART" }, changes.Set.Keys);
    }

    [Fact]
    public void A_new_session_with_nothing_written_produces_no_changes()
    {
        var session = Load(null);
        _ = session["anything"];

        Assert.Null(session.GetChanges());
        Assert.False(session.WillBeStored);
    }

    [Fact]
    public void Values_over_the_size_limit_are_refused_naming_the_key()
    {
        _options.MaxValueBytes = 100;
        var session = Load(null);

        var error = Assert.Throws<SessionSerializationException>(() => session["big"] = new string('x', 200));

        Assert.Equal("big", error.Key);
        Assert.Equal(0, session.Count);
    }

    [Fact]
    public void A_session_over_the_total_limit_is_refused_before_anything_is_written()
    {
        _options.MaxSessionBytes = 300;
        var session = Load(null);
        for (var i = 0; i < 5; i++)
        {
            session["k" + i] = new string('x', 100);
        }

        Assert.Throws<SessionSerializationException>(() => session.GetChanges());
    }

    [Fact]
    public void The_classic_api_by_position_and_enumeration_follow_insertion_order()
    {
        var session = Load(null);
        session.Add("first", 1);
        session.Add("second", "two");
        session["third"] = 3.5;

        Assert.Equal(new[] { "first", "second", "third" }, session.ToArray());
        Assert.Equal("two", session[1]);
        session[1] = "deux";
        session.RemoveAt(0);
        Assert.Equal(new[] { "second", "third" }, session.Keys);
        Assert.Equal("deux", session[0]);
        session.RemoveAll();
        Assert.Equal(0, session.Count);
        Assert.Throws<ArgumentOutOfRangeException>(() => session[0]);
    }

    [Fact]
    public void ISession_and_the_classic_api_share_items()
    {
        var session = Load(null);
        ISession core = session;

        core.SetString("name", "Ada");
        session["city"] = "Paris";
        core.SetInt32("n", 7);

        Assert.Equal("Ada", session.Get<string>("NAME"));
        Assert.Equal("Paris", core.GetString("city"));
        Assert.Equal(7, core.GetInt32("n"));
        Assert.Equal(new[] { "name", "city", "n" }, core.Keys);
        Assert.IsType<byte[]>(session["name"]);
    }

    [Fact]
    public void Timeouts_outside_one_minute_to_one_year_are_refused()
    {
        var session = Load(null);

        Assert.Throws<ArgumentOutOfRangeException>(() => session.Timeout = 0);
        Assert.Throws<ArgumentOutOfRangeException>(() => session.Timeout = 525_601);
        session.Timeout = 525_600;
        Assert.Equal(525_600, session.Timeout);
    }

    [Fact]
    public void A_new_session_cannot_be_established_after_the_response_started()
    {
        var session = Load(null, started: true);

        Assert.Throws<InvalidOperationException>(() => session["a"] = "1");
    }

    [Fact]
    public void Read_only_sessions_keep_changes_for_the_request_but_report_them()
    {
        var session = Load(new SessionData(new Dictionary<string, byte[]>(), TimeSpan.FromMinutes(20)), readOnly: true);

        session["a"] = "1";

        Assert.Equal("1", session["a"]);
        Assert.True(session.ReadOnlyChangeAttempted);
        Assert.True(session.IsReadOnly);
        Assert.Throws<InvalidOperationException>(() => session.RegenerateId());
    }

    [Fact]
    public void Reading_an_item_as_the_wrong_type_names_both_types()
    {
        var session = RoundTrip(s => s["cart"] = new Cart());
        _ = session["cart"];

        var error = Assert.Throws<SessionSerializationException>(() => session.Get<NotAllowed>("cart"));

        Assert.Contains(SessionLocking.Serialization.TypeNames.CSharp(typeof(Cart)), error.Message);
        Assert.Contains(SessionLocking.Serialization.TypeNames.CSharp(typeof(NotAllowed)), error.Message);
    }
}
