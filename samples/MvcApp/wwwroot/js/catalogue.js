// Writes from a read-only request, then asks a later (Required) request whether the value was saved.
(function () {
    'use strict';

    var button = document.getElementById('try-write');
    var output = document.getElementById('try-write-result');
    if (!button) { return; }

    button.addEventListener('click', function () {
        button.disabled = true;
        output.hidden = false;
        output.textContent = 'Writing…';
        var seen;
        fetch('/catalogue/try-write', { method: 'POST', cache: 'no-store', credentials: 'same-origin' })
            .then(function (r) { return r.json(); })
            .then(function (json) {
                seen = json;
                return fetch('/session/info', { cache: 'no-store', credentials: 'same-origin' }).then(function (r) { return r.json(); });
            })
            .then(function (info) {
                var saved = info.keys.some(function (k) { return k.toLowerCase() === seen.key; });
                output.textContent =
                    'In the read-only request (IsReadOnly = ' + seen.isReadOnly + ') Session["' + seen.key + '"] was:\n  ' +
                    seen.valueInThisRequest + '\n' +
                    'In the next request the key is ' + (saved ? 'PRESENT (unexpected!)' : 'absent: the write was not saved') + '.';
            })
            .catch(function (e) { output.textContent = 'Failed: ' + e; })
            .finally(function () { button.disabled = false; });
    });
})();
