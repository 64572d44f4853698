// Fires parallel requests at the slow actions and draws when each one ran on the server. Plain JS, no libraries.
(function () {
    'use strict';

    var root = document.getElementById('concurrency');
    var timeline = document.getElementById('timeline');
    var verdict = document.getElementById('verdict');
    var status = document.getElementById('status');
    var errors = document.getElementById('errors');
    var nInput = document.getElementById('n');
    var msInput = document.getElementById('ms');
    var buttons = Array.prototype.slice.call(document.querySelectorAll('button[data-scenario]'));
    var MIXED = ['required', 'readonly', 'disabled', 'required', 'readonly'];
    var REPORT = ['report', 'required', 'required'];

    function clamp(value, min, max, fallback) {
        var n = parseInt(value, 10);
        if (isNaN(n)) { return fallback; }
        return Math.min(max, Math.max(min, n));
    }

    function plan(scenario, n) {
        if (scenario === 'mixed') { return MIXED.slice(); }
        if (scenario === 'report') { return REPORT.slice(); }
        var list = [];
        for (var i = 0; i < n; i++) { list.push(scenario); }
        return list;
    }

    function overlaps(a, b) { return a.start < b.end && b.start < a.end; }

    // The largest number of intervals that share one instant.
    function maxConcurrent(results) {
        var events = [];
        results.forEach(function (r) { events.push([r.start, 1]); events.push([r.end, -1]); });
        events.sort(function (x, y) { return x[0] - y[0] || x[1] - y[1]; }); // an end before a start at the same time
        var current = 0, best = 0;
        events.forEach(function (e) { current += e[1]; best = Math.max(best, current); });
        return best;
    }

    function el(tag, className, text) {
        var node = document.createElement(tag);
        if (className) { node.className = className; }
        if (text !== undefined) { node.textContent = text; }
        return node;
    }

    function fmt(ms) { return Math.round(ms).toString(); }

    // The Server-Timing header of a session request (on in Development): session-wait;dur=…;desc="the holder's route".
    function serverTiming(response) {
        var timing = {};
        (response.headers.get('Server-Timing') || '').split(',').forEach(function (entry) {
            var m = /^\s*([\w-]+)(?:;dur=([\d.]+))?(?:;desc="((?:[^"\\]|\\.)*)")?/.exec(entry);
            if (m) { timing[m[1]] = { dur: m[2] ? parseFloat(m[2]) : null, desc: m[3] ? m[3].replace(/\\(.)/g, '$1') : null }; }
        });
        return timing;
    }

    // What a request waited for, as its Server-Timing says.
    function waitedFor(r) {
        if (r.wait === null) { return 'no session'; }
        if (!r.wait) { return 'did not wait'; }
        return 'waited ' + fmt(r.wait) + ' ms' + (r.holder ? ' for ' + r.holder : '');
    }

    function draw(results) {
        timeline.textContent = '';
        if (results.length === 0) { return; }
        var t0 = Math.min.apply(null, results.map(function (r) { return r.start; }));
        var t1 = Math.max.apply(null, results.map(function (r) { return r.end; }));
        var span = Math.max(1, t1 - t0);

        var axis = el('div', 'axis');
        axis.appendChild(el('div', 'label', 'server time (ms)'));
        var ticks = el('div', 'track');
        var step = [50, 100, 200, 250, 500, 1000, 2000, 5000].find(function (s) { return span / s <= 8; }) || 10000;
        for (var t = 0; t <= span; t += step) {
            var tick = el('span', 'tick', fmt(t));
            tick.style.left = (t / span * 100) + '%';
            ticks.appendChild(tick);
        }
        axis.appendChild(ticks);
        timeline.appendChild(axis);

        results.forEach(function (r) {
            var row = el('div', 'row');
            var behavior = r.behavior.toLowerCase();
            row.appendChild(el('div', 'label', '#' + r.index + ' ' + r.behavior));
            var track = el('div', 'track');
            var bar = el('div', 'bar bar-' + behavior, fmt(r.start - t0) + '–' + fmt(r.end - t0) + ' ms · ' + waitedFor(r));
            bar.id = 'bar-' + r.index;
            bar.dataset.index = String(r.index);
            bar.dataset.behavior = behavior;
            bar.dataset.start = String(r.start);
            bar.dataset.end = String(r.end);
            bar.dataset.wait = r.wait === null ? '' : String(r.wait);
            bar.dataset.holder = r.holder || '';
            if (r.released !== undefined) { bar.dataset.released = String(r.released); }
            bar.title = r.behavior + ' request #' + r.index + ': server ' + r.start + ' → ' + r.end + ' ms; ' + waitedFor(r) +
                (r.released !== undefined ? '; released the session at ' + r.released + ' ms' : '');
            bar.style.left = ((r.start - t0) / span * 100) + '%';
            bar.style.width = Math.max(0.5, (r.end - r.start) / span * 100) + '%';
            track.appendChild(bar);
            row.appendChild(track);
            timeline.appendChild(row);
        });
    }

    // Two required requests must never overlap: the second is let in only after the first released the lock,
    // which happens after its action ended. A read-only request may overlap a required one: it is let in only
    // while no writer holds the lock, but a writer that comes later does not wait for it (readers never hold
    // writers up), so it can start while the reader still runs.
    function judge(results) {
        var any = false, writerOverlap = false, readerWithWriter = false;
        for (var i = 0; i < results.length; i++) {
            for (var j = i + 1; j < results.length; j++) {
                var a = results[i], b = results[j];
                if (!overlaps(a, b)) { continue; }
                any = true;
                var kinds = [a.behavior, b.behavior].sort().join('+');
                if (kinds === 'Required+Required') { writerOverlap = true; }
                if (kinds === 'Report+Required' && (a.behavior === 'Report' ? a : b).released > Math.max(a.start, b.start)) { writerOverlap = true; }
                if (kinds === 'ReadOnly+Required') { readerWithWriter = true; }
            }
        }

        var max = results.length ? maxConcurrent(results) : 0;
        var text = 'overlapped: ' + (any ? 'yes' : 'no');
        text += any
            ? ' — up to ' + max + ' of the ' + results.length + ' requests ran at the same time.'
            : ' — the ' + results.length + ' requests ran one after another.';
        if (results.filter(function (r) { return r.behavior === 'Required'; }).length > 1) {
            text += writerOverlap
                ? ' Two required requests overlapped: locking is broken!'
                : ' No two required requests overlapped.';
        }

        var report = results.filter(function (r) { return r.behavior === 'Report'; })[0];
        if (report) {
            var during = results.filter(function (r) { return r.behavior === 'Required' && overlaps(r, report); }).length;
            text += ' The report released the session after ' + fmt(report.released - report.start) + ' ms and streamed on;' +
                ' ' + during + ' required request(s) ran while it streamed.';
        }

        if (readerWithWriter) {
            text += ' A read-only request overlapped a required one: it was let in before that writer took the lock' +
                ' (read-only requests wait for a writer that holds the lock, but never hold one up).';
        }

        verdict.textContent = text;
        verdict.dataset.overlapped = any ? 'yes' : 'no';
        verdict.dataset.maxConcurrent = String(max);
        verdict.dataset.writerOverlap = writerOverlap ? 'yes' : 'no';
        verdict.className = 'verdict ' + (writerOverlap ? 'bad' : 'good');
    }

    // after: a promise to wait for before sending; onHeaders: called when the response's headers arrived.
    function fire(behavior, index, ms, after, onHeaders) {
        var url = behavior === 'report'
            ? '/report/stream?ms=' + (ms * 3) + '&rows=6'
            : '/slow/' + behavior + '?ms=' + ms + '&label=' + index;
        return (after || Promise.resolve()).then(function () {
            return fetch(url, { cache: 'no-store', credentials: 'same-origin' });
        }).then(function (response) {
            if (onHeaders) { onHeaders(); }
            if (!response.ok) {
                return response.text().then(function (body) {
                    throw new Error('#' + index + ' ' + behavior + ': HTTP ' + response.status + ' ' + body);
                });
            }

            var timing = serverTiming(response);
            var wait = timing['session-wait'] ? timing['session-wait'].dur : null;
            var holder = timing['session-wait'] ? timing['session-wait'].desc : null;
            return response.text().then(function (body) {
                var lines = body.trim().split('\n');
                var json = JSON.parse(lines[lines.length - 1]);
                return {
                    index: index, behavior: json.behavior, start: json.start, end: json.end, released: json.released,
                    wait: wait, holder: holder
                };
            });
        });
    }


    function run(scenario) {
        var n = clamp(nInput.value, 1, 6, 4);
        var ms = clamp(msInput.value, 50, 5000, 600);
        var list = plan(scenario, n);
        buttons.forEach(function (b) { b.disabled = true; });
        timeline.textContent = '';
        errors.textContent = '';
        verdict.textContent = '';
        verdict.dataset.overlapped = '';
        document.body.dataset.done = 'false';
        status.textContent = 'Running ' + list.length + ' requests (' + scenario + ', ' + ms + ' ms each)…';

        // The report goes first; the others are sent once its headers arrived, which it sends after it released the
        // session: they find it streaming, not holding.
        var reportStarted = null, signal = null;
        if (scenario === 'report') { reportStarted = new Promise(function (resolve) { signal = resolve; }); }
        var pending = list.map(function (behavior, i) {
            var first = scenario === 'report' && i === 0;
            return fire(behavior, i + 1, ms, first ? null : reportStarted, first ? signal : null).then(
                function (result) { return result; },
                function (error) {
                    if (first) { signal(); }
                    errors.appendChild(el('li', '', String(error.message || error)));
                    return null;
                });
        });

        return Promise.all(pending).then(function (all) {
            var results = all.filter(function (r) { return r !== null; });
            results.sort(function (a, b) { return a.index - b.index; });
            draw(results);
            judge(results);
            status.textContent = 'Done: ' + scenario + ', ' + results.length + ' of ' + list.length + ' requests answered.';
            status.dataset.scenario = scenario;
        }).finally(function () {
            buttons.forEach(function (b) { b.disabled = false; });
            document.body.dataset.done = 'true';
        });
    }

    buttons.forEach(function (button) {
        button.addEventListener('click', function () { run(button.dataset.scenario); });
    });

    if (root.dataset.auto) {
        run(root.dataset.auto);
    }
})();
