// The customer's meeting on the join page: camera and microphone set-up
// while waiting (#setup), then the call itself (#call) over the relay's
// signalling WebSocket (docs/signalling.md) and one RTCPeerConnection to
// the relay's SFU, with chat, file exchange and the whiteboard (board.js,
// loaded before this file).
//
// join.js owns the page's views and texts; it merges ParleyCall.TEXTS into
// its own and drives this module through the controller that
// ParleyCall.create returns.
//
// Privacy: camera and microphone are opened only on this page and sent
// only to this relay; chat and files go only to this relay; nothing is
// stored in the browser but the participant secret join.js keeps in
// sessionStorage.
(function () {
  'use strict';

  var TEXTS = {
    en: {
      setupHeading: 'Camera and microphone',
      setupHint: 'Check how you look and sound while you wait. Nothing is sent before your advisor lets you in.',
      cameraLabel: 'Camera',
      micLabel: 'Microphone',
      camOnLabel: 'Camera on',
      micOnLabel: 'Microphone on',
      cameraN: function (p) { return 'Camera ' + p.n; },
      micN: function (p) { return 'Microphone ' + p.n; },
      previewLabel: 'Preview of your camera',
      previewOff: 'Camera off',
      devAsking: 'Your browser is asking whether this page may use your camera and microphone.',
      devDenied: 'Camera and microphone are blocked. You can still take part and see and hear everyone. To be seen and heard, allow them in your browser\u2019s site settings and press \u201cTry again\u201d.',
      devNone: 'No camera or microphone was found. You can still take part and see and hear everyone.',
      devNoCam: 'No camera was found. The others will hear you but not see you.',
      devNoMic: 'No microphone was found. The others will see you but not hear you.',
      devBusy: 'Your camera or microphone is being used by another program. Close it and press \u201cTry again\u201d.',
      devUnsupported: 'This browser cannot use a camera or microphone here. You can still see and hear everyone.',
      devRetry: 'Try again',
      stageLabel: 'Participants',
      stageEmpty: 'Waiting for the others to connect…',
      you: 'You',
      screenOf: function (p) { return p.name + ' \u2013 screen'; },
      yourScreen: 'You are sharing your screen.',
      advisorRole: 'advisor',
      micOffBadge: 'Microphone off',
      camOffBadge: 'Camera off',
      controlsLabel: 'Call controls',
      mute: 'Mute',
      unmute: 'Unmute',
      camOff: 'Stop camera',
      camOn: 'Start camera',
      shareScreen: 'Share screen',
      stopShare: 'Stop sharing',
      shareFailed: 'Your screen could not be shared.',
      leaveCall: 'Leave',
      connConnected: 'Connected',
      connConnecting: 'Connecting…',
      connReconnecting: 'Connection lost. Reconnecting…',
      connUnstable: 'Connection unstable. Trying to recover…',
      chatHeading: 'Chat and files',
      chatEmpty: 'No messages yet.',
      chatInputLabel: 'Message',
      chatSend: 'Send',
      chatSending: 'sending…',
      chatTooLong: 'A message can have at most 4000 characters.',
      chatRefused: 'The message was not accepted.',
      rateLimited: 'You are sending too fast. Please wait a moment.',
      fileSend: 'Send a file',
      fileShared: 'shared a file',
      fileDownload: 'Download',
      fileDownloadOf: function (p) { return 'Download ' + p.name; },
      fileUploading: function (p) { return 'Sending \u201c' + p.name + '\u201d…'; },
      fileCancel: 'Cancel',
      fileTooLarge: function (p) { return '\u201c' + p.name + '\u201d is too large to share here.'; },
      fileTypeNotAllowed: function (p) { return 'Files like \u201c' + p.name + '\u201d cannot be shared here. PDF, images, text and office documents can.'; },
      fileQuota: 'This meeting has no room for more files.',
      fileEmpty: function (p) { return '\u201c' + p.name + '\u201d is empty.'; },
      fileFailed: function (p) { return '\u201c' + p.name + '\u201d could not be sent.' + (p.message ? ' ' + p.message : ''); },
      fileOffline: function (p) { return '\u201c' + p.name + '\u201d could not be sent: the meeting service cannot be reached.'; },
      fileDownloading: 'Downloading…',
      fileDownloaded: 'Downloaded',
      fileDownloadFailed: 'The download failed. Please try again.',
      replacedHeading: 'Opened in another tab',
      replaced: 'This meeting is now open in another tab or window. Continue there, or continue here instead.',
      continueHere: 'Continue here',
      recOn: 'Recording',
      recPaused: 'Recording paused until everyone has agreed',
      recPending: 'Your advisor asked to record. Nothing is recorded until everyone agrees.',
      recDialogHeading: 'May this meeting be recorded?',
      recDialogText: 'Your advisor would like to record this meeting: video, sound, chat, files and whiteboard. Nothing is recorded unless you and everyone else in the meeting agree. The recording is kept for 180 days and then deleted. You can withdraw your consent at any time; the recording then stops.',
      recAccept: 'I agree to the recording',
      recRefuse: 'Do not record',
      recWithdraw: 'Withdraw my consent to the recording',
      recFailed: 'Your answer could not be sent. Please try again.'
    },
    de: {
      setupHeading: 'Kamera und Mikrofon',
      setupHint: 'Prüfen Sie, wie man Sie sieht und hört, während Sie warten. Gesendet wird erst, wenn Ihr Berater Sie einlässt.',
      cameraLabel: 'Kamera',
      micLabel: 'Mikrofon',
      camOnLabel: 'Kamera an',
      micOnLabel: 'Mikrofon an',
      cameraN: function (p) { return 'Kamera ' + p.n; },
      micN: function (p) { return 'Mikrofon ' + p.n; },
      previewLabel: 'Vorschau Ihrer Kamera',
      previewOff: 'Kamera aus',
      devAsking: 'Ihr Browser fragt, ob diese Seite Kamera und Mikrofon verwenden darf.',
      devDenied: 'Kamera und Mikrofon sind gesperrt. Sie können trotzdem teilnehmen und alle sehen und hören. Damit man Sie sieht und hört, erlauben Sie beides in den Website-Einstellungen Ihres Browsers und wählen Sie \u201eErneut versuchen\u201c.',
      devNone: 'Es wurde keine Kamera und kein Mikrofon gefunden. Sie können trotzdem teilnehmen und alle sehen und hören.',
      devNoCam: 'Es wurde keine Kamera gefunden. Die anderen hören Sie, sehen Sie aber nicht.',
      devNoMic: 'Es wurde kein Mikrofon gefunden. Die anderen sehen Sie, hören Sie aber nicht.',
      devBusy: 'Ihre Kamera oder Ihr Mikrofon wird von einem anderen Programm verwendet. Schließen Sie es und wählen Sie \u201eErneut versuchen\u201c.',
      devUnsupported: 'Dieser Browser kann hier keine Kamera und kein Mikrofon verwenden. Sie können trotzdem alle sehen und hören.',
      devRetry: 'Erneut versuchen',
      stageLabel: 'Teilnehmende',
      stageEmpty: 'Warten, bis die anderen verbunden sind…',
      you: 'Sie',
      screenOf: function (p) { return p.name + ' \u2013 Bildschirm'; },
      yourScreen: 'Sie teilen Ihren Bildschirm.',
      advisorRole: 'Berater',
      micOffBadge: 'Mikrofon aus',
      camOffBadge: 'Kamera aus',
      controlsLabel: 'Steuerung des Gesprächs',
      mute: 'Stummschalten',
      unmute: 'Ton einschalten',
      camOff: 'Kamera ausschalten',
      camOn: 'Kamera einschalten',
      shareScreen: 'Bildschirm teilen',
      stopShare: 'Teilen beenden',
      shareFailed: 'Ihr Bildschirm konnte nicht geteilt werden.',
      leaveCall: 'Verlassen',
      connConnected: 'Verbunden',
      connConnecting: 'Verbindung wird aufgebaut…',
      connReconnecting: 'Verbindung unterbrochen. Neuer Versuch…',
      connUnstable: 'Verbindung instabil. Wird wiederhergestellt…',
      chatHeading: 'Chat und Dateien',
      chatEmpty: 'Noch keine Nachrichten.',
      chatInputLabel: 'Nachricht',
      chatSend: 'Senden',
      chatSending: 'wird gesendet…',
      chatTooLong: 'Eine Nachricht darf höchstens 4000 Zeichen haben.',
      chatRefused: 'Die Nachricht wurde nicht angenommen.',
      rateLimited: 'Sie senden zu schnell. Bitte warten Sie einen Moment.',
      fileSend: 'Datei senden',
      fileShared: 'hat eine Datei geteilt',
      fileDownload: 'Herunterladen',
      fileDownloadOf: function (p) { return p.name + ' herunterladen'; },
      fileUploading: function (p) { return '\u201e' + p.name + '\u201c wird gesendet…'; },
      fileCancel: 'Abbrechen',
      fileTooLarge: function (p) { return '\u201e' + p.name + '\u201c ist zu groß, um es hier zu teilen.'; },
      fileTypeNotAllowed: function (p) { return 'Dateien wie \u201e' + p.name + '\u201c können hier nicht geteilt werden. PDF, Bilder, Text- und Office-Dokumente schon.'; },
      fileQuota: 'In diesem Termin ist kein Platz für weitere Dateien.',
      fileEmpty: function (p) { return '\u201e' + p.name + '\u201c ist leer.'; },
      fileFailed: function (p) { return '\u201e' + p.name + '\u201c konnte nicht gesendet werden.' + (p.message ? ' ' + p.message : ''); },
      fileOffline: function (p) { return '\u201e' + p.name + '\u201c konnte nicht gesendet werden: Der Termindienst ist nicht erreichbar.'; },
      fileDownloading: 'Wird heruntergeladen…',
      fileDownloaded: 'Heruntergeladen',
      fileDownloadFailed: 'Das Herunterladen ist fehlgeschlagen. Bitte versuchen Sie es erneut.',
      replacedHeading: 'In einem anderen Tab geöffnet',
      replaced: 'Dieser Termin ist jetzt in einem anderen Tab oder Fenster geöffnet. Machen Sie dort weiter oder stattdessen hier.',
      continueHere: 'Hier weitermachen',
      recOn: 'Aufzeichnung läuft',
      recPaused: 'Aufzeichnung angehalten, bis alle zugestimmt haben',
      recPending: 'Ihr Berater möchte aufzeichnen. Aufgezeichnet wird erst, wenn alle zustimmen.',
      recDialogHeading: 'Darf dieser Termin aufgezeichnet werden?',
      recDialogText: 'Ihr Berater möchte diesen Termin aufzeichnen: Bild, Ton, Chat, Dateien und Whiteboard. Aufgezeichnet wird nur, wenn Sie und alle anderen Teilnehmenden zustimmen. Die Aufzeichnung wird 180 Tage aufbewahrt und dann gelöscht. Sie können Ihre Einwilligung jederzeit widerrufen; die Aufzeichnung endet dann.',
      recAccept: 'Ich stimme der Aufzeichnung zu',
      recRefuse: 'Nicht aufzeichnen',
      recWithdraw: 'Einwilligung zur Aufzeichnung widerrufen',
      recFailed: 'Ihre Antwort konnte nicht gesendet werden. Bitte versuchen Sie es erneut.'
    }
  };

  // The whiteboard's texts (board.js) join the call's.
  if (window.ParleyBoard) {
    ['en', 'de'].forEach(function (l) {
      var extra = window.ParleyBoard.TEXTS[l];
      Object.keys(extra).forEach(function (k) { TEXTS[l][k] = extra[k]; });
    });
  }

  var PING_MS = 15000;
  var ICE_RESTART_MS = 4000;
  // A connection that has not come up this long after negotiating starts
  // afresh (new signalling and peer connection) instead of hanging.
  var CONNECT_MS = 15000;
  var REOFFER_MS = 800;
  var MIN_BACKOFF_MS = 500;
  var MAX_BACKOFF_MS = 15000;
  var MAX_CHAT = 4000;
  // Errors after which the relay closes the connection (docs/signalling.md).
  var FATAL = { hello_required: 1, unauthorized: 1, forbidden: 1, not_admitted: 1, meeting_ended: 1, link_expired: 1 };

  // create builds the meeting's controller. env gives it:
  //   t(key, params)   the page's texts in the chosen language
  //   lang()           'de' or 'en'
  //   secret()         the participant secret (pmp_…), or ''
  //   participantId()  this participant's id, to tell own chat entries
  //   ended(reason)    the relay ended the connection: meeting_ended,
  //                    removed, left, replaced, not_admitted or gone
  function create(env) {
    var $ = function (id) { return document.getElementById(id); };
    var el = {
      setup: $('setup'), preview: $('preview'), previewOff: $('preview-off'),
      setupFields: document.querySelector('#setup .setup-fields'),
      camSelect: $('camera-select'), micSelect: $('mic-select'), camOn: $('cam-on'), micOn: $('mic-on'),
      devMsg: $('device-msg'), devRetry: $('device-retry'),
      call: $('call'), indicator: $('indicator'), indicatorText: $('indicator-text'),
      stage: $('stage'), stageEmpty: $('stage-empty'), selfTile: $('self-tile'), selfVideo: $('self-video'),
      selfAvatar: document.querySelector('#self-tile .tile-avatar'),
      selfBadges: $('self-badges'), sharing: $('sharing'),
      btnMic: $('btn-mic'), btnCam: $('btn-cam'), btnScreen: $('btn-screen'), btnLeave: $('btn-leave'),
      callMsg: $('call-msg'),
      chatList: $('chat-list'), chatEmpty: $('chat-empty'), chatForm: $('chat-form'), chatInput: $('chat-input'),
      chatError: $('chat-error'), fileButton: $('file-button'), fileInput: $('file-input'),
      upload: $('upload'), uploadText: $('upload-text'), uploadProgress: $('upload-progress'),
      uploadCancel: $('upload-cancel'), fileError: $('file-error'),
      recIndicator: $('rec-indicator'), recIndicatorText: $('rec-indicator-text'), recDialog: $('rec-dialog'),
      recAccept: $('rec-accept'), recRefuse: $('rec-refuse'), recWithdraw: $('rec-withdraw'), recError: $('rec-error')
    };

    // The recording state the relay last sent (docs/recording.md): the
    // indicator for everyone, the consent dialog while this customer is
    // asked. Refusal is the default: closing the page answers nothing, and
    // nothing is recorded until every customer present has agreed.
    var rec = { seq: 0, st: null, failed: false };

    // The whiteboard rides on this call's signalling.
    var board = window.ParleyBoard ? window.ParleyBoard.create({
      t: env.t,
      send: function (m) { return send(m); },
      resync: function () { if (sig.ws) sig.ws.close(); },
      participantId: env.participantId,
      secret: env.secret
    }) : null;

    // ---- local media ----

    var dev = {
      started: false,
      status: '',        // '', asking, ok, denied, none, nocam, nomic, busy, unsupported
      stream: new MediaStream(), // the tracks being sent (or previewed)
      mic: null, cam: null,      // MediaStreamTrack or null
      micId: '', camId: '',
      wantMic: true, wantCam: true,
      cams: [], mics: [],
      busy: false
    };
    var screen = { track: null, stream: null, sender: null, error: false };

    function hasMediaDevices() {
      return !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
    }

    function audioConstraint() {
      var c = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
      if (dev.micId) c.deviceId = { exact: dev.micId };
      return c;
    }

    function videoConstraint() {
      var c = { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30 } };
      if (dev.camId) c.deviceId = { exact: dev.camId };
      return c;
    }

    function errorStatus(err) {
      var n = err && err.name;
      if (n === 'NotAllowedError' || n === 'SecurityError' || n === 'PermissionDeniedError') return 'denied';
      if (n === 'NotReadableError' || n === 'AbortError' || n === 'TrackStartError') return 'busy';
      return 'none'; // NotFoundError, OverconstrainedError
    }

    // gum asks for the given kinds; it resolves to {stream} or {error}.
    function gum(audio, video) {
      return navigator.mediaDevices.getUserMedia({
        audio: audio ? audioConstraint() : false,
        video: video ? videoConstraint() : false
      }).then(function (s) { return { stream: s }; }, function (e) { return { error: e }; });
    }

    // acquire opens the wanted devices. When asking for both fails for
    // lack of one, it asks for each alone, so a customer without a camera
    // still sends sound.
    function acquire() {
      if (!hasMediaDevices()) { dev.status = 'unsupported'; render(); return Promise.resolve(); }
      var wantA = dev.wantMic && !dev.mic, wantV = dev.wantCam && !dev.cam;
      if (!wantA && !wantV) return Promise.resolve();
      dev.busy = true;
      dev.status = 'asking';
      render();
      return gum(wantA, wantV).then(function (r) {
        if (r.stream) return [r];
        var st = errorStatus(r.error);
        if (st !== 'none' || !(wantA && wantV)) return [r];
        return Promise.all([gum(true, false), gum(false, true)]);
      }).then(function (results) {
        var firstError = null;
        results.forEach(function (r) {
          if (r.stream) {
            r.stream.getTracks().forEach(function (tr) { useTrack(tr); });
          } else if (!firstError) {
            firstError = r.error;
          }
        });
        if (!dev.mic && !dev.cam && firstError) {
          dev.status = errorStatus(firstError);
          if (dev.status === 'none' && !(wantA && wantV)) dev.status = wantA ? 'nomic' : 'nocam';
        } else if (wantA && !dev.mic) {
          dev.status = firstError && errorStatus(firstError) !== 'none' ? errorStatus(firstError) : 'nomic';
        } else if (wantV && !dev.cam) {
          dev.status = firstError && errorStatus(firstError) !== 'none' ? errorStatus(firstError) : 'nocam';
        } else {
          dev.status = 'ok';
        }
        return enumerate();
      }).then(function () {
        dev.busy = false;
        render();
        sendMedia();
      });
    }

    // useTrack puts a fresh local track in place of the one of its kind:
    // in the stream, in the sender, and in dev.
    function useTrack(tr) {
      var kind = tr.kind;
      var old = kind === 'audio' ? dev.mic : dev.cam;
      if (old && old !== tr) {
        dev.stream.removeTrack(old);
        old.stop();
      }
      if (kind === 'audio') {
        dev.mic = tr;
        tr.enabled = dev.wantMic;
        dev.micId = tr.getSettings().deviceId || dev.micId;
      } else {
        dev.cam = tr;
        dev.camId = tr.getSettings().deviceId || dev.camId;
      }
      dev.stream.addTrack(tr);
      tr.addEventListener('ended', function () {
        // Unplugged: forget it; the customer can pick another one.
        if ((kind === 'audio' ? dev.mic : dev.cam) !== tr) return;
        dropTrack(kind);
        enumerate().then(render);
      });
      replaceSender(kind, tr);
      attachLocal();
    }

    function dropTrack(kind) {
      var tr = kind === 'audio' ? dev.mic : dev.cam;
      if (!tr) return;
      dev.stream.removeTrack(tr);
      tr.stop();
      if (kind === 'audio') dev.mic = null; else dev.cam = null;
      replaceSender(kind, null);
      attachLocal();
    }

    function attachLocal() {
      // A new MediaStream object makes the video elements pick up the
      // changed tracks in every browser.
      var v = new MediaStream(dev.cam ? [dev.cam] : []);
      el.preview.srcObject = dev.cam ? v : null;
      el.selfVideo.srcObject = dev.cam ? v : null;
    }

    function enumerate() {
      if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return Promise.resolve();
      return navigator.mediaDevices.enumerateDevices().then(function (list) {
        dev.cams = list.filter(function (d) { return d.kind === 'videoinput' && d.deviceId; });
        dev.mics = list.filter(function (d) { return d.kind === 'audioinput' && d.deviceId; });
      }, function () { /* keep the old lists */ });
    }

    function fillSelect(select, devices, current, textKey) {
      var seen = [];
      devices.forEach(function (d, i) {
        var label = d.label || env.t(textKey, { n: i + 1 });
        var opt = select.querySelector('option[value="' + CSS.escape(d.deviceId) + '"]');
        if (!opt) {
          opt = document.createElement('option');
          opt.value = d.deviceId;
          select.appendChild(opt);
        }
        if (opt.textContent !== label) opt.textContent = label;
        seen.push(opt);
      });
      Array.prototype.slice.call(select.options).forEach(function (o) {
        if (seen.indexOf(o) < 0) o.remove();
      });
      if (current) select.value = current;
      select.disabled = devices.length === 0 || dev.busy;
    }

    function chooseDevice(kind, id) {
      if (kind === 'audio') dev.micId = id; else dev.camId = id;
      var want = kind === 'audio' ? dev.wantMic : dev.wantCam;
      if (!want || !hasMediaDevices()) return;
      dev.busy = true;
      render();
      // Release the old device first: some cameras cannot be opened twice.
      if (kind === 'video') dropTrack('video');
      gum(kind === 'audio', kind === 'video').then(function (r) {
        dev.busy = false;
        if (r.stream) {
          r.stream.getTracks().forEach(useTrack);
          if (dev.status !== 'denied') dev.status = dev.mic || !dev.wantMic ? (dev.cam || !dev.wantCam ? 'ok' : 'nocam') : 'nomic';
        } else {
          dev.status = errorStatus(r.error);
        }
        render();
        sendMedia();
      });
    }

    function setMic(on) {
      dev.wantMic = on;
      if (dev.mic) {
        dev.mic.enabled = on;
      } else if (on && dev.started) {
        acquire();
        return;
      }
      render();
      sendMedia();
    }

    function setCam(on) {
      dev.wantCam = on;
      if (!on) {
        // Stop the camera itself (its light goes off), not only the frames.
        dropTrack('video');
      } else if (!dev.cam && dev.started) {
        acquire();
        return;
      }
      render();
      sendMedia();
    }

    // ---- signalling and the peer connection ----

    var sig = {
      ws: null,
      open: false,      // welcome received on the current socket
      active: false,    // the call runs: reconnect when the socket drops
      attempts: 0,
      retryTimer: 0,
      pingTimer: 0,
      lastSeq: 0,
      peerId: '',
      iceServers: []
    };
    var pc = null;
    var neg = { making: false, pending: false, reoffer: false, reofferTimer: 0 };
    var iceTimer = 0;
    var connectTimer = 0;
    var tx = { audio: null, video: null }; // the camera's and microphone's transceivers

    var roster = {};   // peer id -> roster entry
    var tiles = {};    // stream id -> {fig, video, stream, peer, kind}

    function send(m) {
      if (!sig.ws || sig.ws.readyState !== WebSocket.OPEN) return false;
      sig.ws.send(JSON.stringify(m));
      return true;
    }

    function connect() {
      clearTimeout(sig.retryTimer);
      if (!sig.active) return;
      var url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/api/v1/signal';
      var ws;
      try {
        ws = new WebSocket(url);
      } catch (e) {
        scheduleReconnect();
        return;
      }
      sig.ws = ws;
      sig.open = false;
      ws.onopen = function () {
        if (sig.ws !== ws) return;
        var hello = { type: 'hello', token: env.secret(), since: sig.lastSeq };
        if (board) {
          var bh = board.hello();
          if (bh.board_epoch) { hello.board_since = bh.board_since; hello.board_epoch = bh.board_epoch; }
        }
        ws.send(JSON.stringify(hello));
      };
      ws.onmessage = function (ev) {
        if (sig.ws !== ws) return;
        var m;
        try { m = JSON.parse(ev.data); } catch (e) { return; }
        if (m && typeof m.type === 'string') onMessage(m);
      };
      ws.onclose = function () {
        if (sig.ws !== ws) return;
        sig.ws = null;
        sig.open = false;
        clearInterval(sig.pingTimer);
        closePeer();
        if (sig.active) scheduleReconnect();
        render();
      };
      render();
    }

    function scheduleReconnect() {
      clearTimeout(sig.retryTimer);
      var base = Math.min(MIN_BACKOFF_MS * Math.pow(2, sig.attempts), MAX_BACKOFF_MS);
      sig.attempts++;
      sig.retryTimer = setTimeout(connect, base / 2 + Math.random() * base / 2);
      render();
    }

    function onMessage(m) {
      switch (m.type) {
        case 'welcome':
          sig.open = true;
          sig.attempts = 0;
          sig.peerId = m.peer_id || '';
          sig.iceServers = Array.isArray(m.ice_servers) ? m.ice_servers : [];
          clearInterval(sig.pingTimer);
          sig.pingTimer = setInterval(function () { send({ type: 'ping' }); }, PING_MS);
          rec.seq = 0; // the relay sends the current state after the welcome
          newPeer();
          resendChats();
          if (board) board.connected();
          render();
          break;
        case 'roster':
          roster = {};
          (m.peers || []).forEach(function (p) { roster[p.peer_id] = p; });
          syncTiles();
          render();
          break;
        case 'offer': case 'answer':
          onDescription(m.type, m.sdp);
          break;
        case 'candidate':
          if (pc) {
            pc.addIceCandidate(m.candidate || null).catch(function () { /* stale or early: harmless */ });
          }
          break;
        case 'chat': case 'file':
          if (m.entry) addEntry(m.entry);
          break;
        case 'board':
          if (board) board.onOp(m.board);
          break;
        case 'board_state':
          if (board) board.onState(m.board, m.board_epoch);
          break;
        case 'recording':
          onRecording(m.recording);
          break;
        case 'sign_request':
          if (env.signRequest && m.sign) env.signRequest(m.sign);
          break;
        case 'ended':
          finish(m.reason || 'meeting_ended');
          break;
        case 'error':
          onError(m);
          break;
      }
    }

    function onError(m) {
      if (board && typeof m.code === 'string' && m.code.indexOf('board_') === 0) {
        board.onError(m);
      } else if (typeof m.code === 'string' && m.code.indexOf('record_') === 0) {
        rec.failed = true;
        renderRecording();
      } else if (m.code === 'rate_limited') {
        showChatError('rateLimited');
      } else if (m.code === 'bad_message') {
        // Most likely a chat message the relay refused; say so near the chat.
        if (chat.pending.length) showChatError('chatRefused');
      } else if (m.code === 'negotiation_failed') {
        // Start afresh with a new peer connection.
        if (sig.ws) sig.ws.close();
      } else if (FATAL[m.code]) {
        if (m.code === 'meeting_ended') finish('meeting_ended');
        else if (m.code === 'not_admitted') finish('not_admitted');
        else if (m.code !== 'hello_required') finish('gone');
      }
    }

    // ---- recording consent ----

    function onRecording(st) {
      if (!st || typeof st.seq !== 'number' || st.seq < rec.seq) return; // stale
      var wasAsked = !!(rec.st && rec.st.asked);
      rec.seq = st.seq;
      rec.st = st;
      rec.failed = false;
      renderRecording();
      // The dialog takes the focus when it appears, on the safe answer.
      if (st.asked && !wasAsked) el.recRefuse.focus();
    }

    function answerRecording(action) {
      rec.failed = !send({ type: 'record', action: action });
      renderRecording();
    }

    function renderRecording() {
      var st = rec.st && sig.active ? rec.st : null;
      var phase = st ? st.phase : 'off';
      var key = { recording: 'recOn', paused: 'recPaused', pending: 'recPending' }[phase] || '';
      el.recIndicator.hidden = !key;
      el.recIndicator.dataset.phase = phase;
      var text = key ? env.t(key) : '';
      if (el.recIndicatorText.textContent !== text) el.recIndicatorText.textContent = text;
      el.recDialog.hidden = !(st && st.asked);
      el.recWithdraw.hidden = !(st && st.consented && phase !== 'off');
      el.recError.hidden = !rec.failed;
      if (rec.failed) el.recError.textContent = env.t('recFailed');
    }

    // finish ends the call for good and tells the page why.
    function finish(reason) {
      if (!sig.active) return;
      stop();
      env.ended(reason);
    }

    function sendMedia() {
      if (!sig.open) return;
      var media = { audio: !!(dev.mic && dev.wantMic), video: !!dev.cam };
      if (screen.stream) media.screen_stream = screen.stream.id;
      send({ type: 'media', media: media });
    }

    function newPeer() {
      closePeer();
      var p = new RTCPeerConnection({ iceServers: sig.iceServers, bundlePolicy: 'max-bundle' });
      pc = p;
      neg.making = false;
      neg.pending = false;
      neg.reoffer = false;
      // Send the media state before the offer the transceivers cause.
      sendMedia();
      // Camera and microphone always have a transceiver, with or without a
      // track, so turning them on later needs no renegotiation and a
      // customer without devices still offers to receive.
      tx.audio = p.addTransceiver(dev.mic || 'audio', { direction: 'sendrecv', streams: [dev.stream] });
      tx.video = p.addTransceiver(dev.cam || 'video', { direction: 'sendrecv', streams: [dev.stream] });
      if (screen.track) screen.sender = p.addTrack(screen.track, screen.stream);

      p.onicecandidate = function (ev) {
        if (p !== pc) return;
        if (ev.candidate) send({ type: 'candidate', candidate: ev.candidate.toJSON() });
        else send({ type: 'candidate' });
      };
      p.onnegotiationneeded = function () {
        if (p !== pc) return;
        neg.reoffer = false;
        negotiate();
      };
      p.ontrack = function (ev) {
        if (p !== pc) return;
        var stream = ev.streams && ev.streams[0];
        if (stream) addRemote(stream);
      };
      p.oniceconnectionstatechange = function () {
        if (p !== pc) return;
        watchIce();
        render();
      };
      p.onconnectionstatechange = function () {
        if (p !== pc) return;
        watchIce();
        render();
      };
    }

    function closePeer() {
      clearTimeout(iceTimer);
      clearTimeout(connectTimer);
      connectTimer = 0;
      clearTimeout(neg.reofferTimer);
      if (pc) {
        var p = pc;
        pc = null;
        screen.sender = null;
        tx.audio = tx.video = null;
        try { p.close(); } catch (e) { /* already closed */ }
      }
      Object.keys(tiles).forEach(removeTile);
    }

    // negotiate sends an offer when the connection is stable; otherwise it
    // remembers to offer once the current exchange is over.
    function negotiate() {
      var p = pc;
      if (!p || !sig.open) return;
      if (neg.making || p.signalingState !== 'stable') { neg.pending = true; return; }
      neg.pending = false;
      neg.making = true;
      p.setLocalDescription().then(function () {
        if (p !== pc) return;
        if (p.localDescription && p.localDescription.type === 'offer') {
          send({ type: 'offer', sdp: p.localDescription.sdp });
        }
      }).catch(function () {
        /* a rollback or close got in between; the next exchange retries */
      }).then(function () {
        if (p === pc) neg.making = false;
      });
    }

    // onDescription is the polite side of perfect negotiation: the relay's
    // offer always wins; a colliding offer of ours is rolled back (by
    // setRemoteDescription) and made again after the answer.
    function onDescription(type, sdp) {
      var p = pc;
      if (!p || !sdp) return;
      var collision = type === 'offer' && (neg.making || p.signalingState !== 'stable');
      if (type === 'answer' && p.signalingState !== 'have-local-offer') return; // stale
      if (collision) neg.reoffer = true;
      p.setRemoteDescription({ type: type, sdp: sdp }).then(function () {
        if (p !== pc || type !== 'offer') return null;
        return p.setLocalDescription().then(function () {
          if (p !== pc) return;
          send({ type: 'answer', sdp: p.localDescription.sdp });
        });
      }).then(function () {
        if (p !== pc) return;
        watchConnect();
        if (neg.pending) {
          negotiate();
        } else if (neg.reoffer) {
          // The browser fires negotiationneeded again after a rollback;
          // offer anyway if it does not.
          clearTimeout(neg.reofferTimer);
          neg.reofferTimer = setTimeout(function () {
            if (p === pc && neg.reoffer) { neg.reoffer = false; negotiate(); }
          }, REOFFER_MS);
        }
      }).catch(function () {
        // A description that cannot be applied leaves this connection
        // unusable: start afresh.
        if (p === pc && sig.ws) sig.ws.close();
      });
    }

    // watchIce restarts ICE when the media path stays broken for a few
    // seconds while signalling still works.
    function watchIce() {
      watchConnect();
      var p = pc;
      var s = p ? p.iceConnectionState : '';
      if (s === 'disconnected' || s === 'failed') {
        if (iceTimer) return;
        iceTimer = setTimeout(function () {
          iceTimer = 0;
          if (p !== pc || !sig.open) return;
          var now = p.iceConnectionState;
          if (now === 'disconnected' || now === 'failed') p.restartIce();
        }, ICE_RESTART_MS);
      } else {
        clearTimeout(iceTimer);
        iceTimer = 0;
      }
    }

    // watchConnect gives a negotiated connection CONNECT_MS to come up.
    function watchConnect() {
      var p = pc;
      var st = p ? p.connectionState : 'closed';
      if (st !== 'new' && st !== 'connecting') {
        clearTimeout(connectTimer);
        connectTimer = 0;
        return;
      }
      if (connectTimer || !p.remoteDescription || p.getTransceivers().length === 0) return;
      connectTimer = setTimeout(function () {
        connectTimer = 0;
        if (p !== pc || !sig.open) return;
        if (p.connectionState === 'new' || p.connectionState === 'connecting') {
          if (sig.ws) sig.ws.close();
        }
      }, CONNECT_MS);
    }

    // replaceSender puts track (or nothing) on the camera's or the
    // microphone's transceiver; no renegotiation is needed.
    function replaceSender(kind, track) {
      var t = tx[kind];
      if (!pc || !t || t.stopped) return;
      t.sender.replaceTrack(track).catch(function () { /* closed meanwhile */ });
    }

    // ---- screen share ----

    function startShare() {
      if (screen.track || !navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia) return;
      screen.error = false;
      navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15 } }, audio: false }).then(function (s) {
        var tr = s.getVideoTracks()[0];
        if (!tr || !sig.active) { s.getTracks().forEach(function (x) { x.stop(); }); return; }
        if ('contentHint' in tr) tr.contentHint = 'detail';
        screen.track = tr;
        screen.stream = new MediaStream([tr]);
        // The browser's own "Stop sharing" button ends the track.
        tr.addEventListener('ended', function () { if (screen.track === tr) stopShare(); });
        // The relay learns the stream id before the offer that adds it.
        sendMedia();
        if (pc) screen.sender = pc.addTrack(tr, screen.stream);
        render();
      }, function (e) {
        // Cancelling the browser's picker is not an error worth showing.
        screen.error = !(e && e.name === 'NotAllowedError');
        render();
      });
    }

    function stopShare() {
      var tr = screen.track;
      if (!tr) return;
      screen.track = null;
      screen.stream = null;
      tr.stop();
      if (pc && screen.sender) {
        try { pc.removeTrack(screen.sender); } catch (e) { /* closed */ }
      }
      screen.sender = null;
      sendMedia();
      render();
    }

    // ---- remote media ----

    // ensureTile returns the tile of stream id, making it if needed. A
    // camera tile exists for every other peer in the roster, with or
    // without media (a customer without devices still shows up).
    function ensureTile(id) {
      if (tiles[id]) return tiles[id];
      var screenShare = id.slice(-7) === '/screen';
      var peer = screenShare ? id.slice(0, -7) : id;
      var fig = document.createElement('figure');
      fig.className = 'tile' + (screenShare ? ' screen' : '');
      fig.dataset.peer = peer;
      fig.dataset.kind = screenShare ? 'screen' : 'camera';
      var video = document.createElement('video');
      video.autoplay = true;
      video.playsInline = true;
      video.muted = screenShare; // a screen share carries no sound here
      var avatar = document.createElement('span');
      avatar.className = 'tile-avatar';
      avatar.setAttribute('aria-hidden', 'true');
      var cap = document.createElement('figcaption');
      var name = document.createElement('span');
      name.className = 'tile-name';
      var badges = document.createElement('span');
      badges.className = 'tile-badges';
      cap.appendChild(name);
      cap.appendChild(badges);
      fig.appendChild(video);
      fig.appendChild(avatar);
      fig.appendChild(cap);
      var tile = { id: id, fig: fig, video: video, stream: null, peer: peer, kind: fig.dataset.kind, avatar: avatar, name: name, badges: badges };
      tiles[id] = tile;
      // Screen shares first: they are what people look at.
      if (screenShare) el.stage.insertBefore(fig, el.stage.firstChild);
      else el.stage.insertBefore(fig, el.selfTile);
      renderTile(tile);
      renderStage();
      return tile;
    }

    function addRemote(stream) {
      var tile = ensureTile(stream.id);
      if (tile.stream === stream) { renderTile(tile); return; }
      tile.stream = stream;
      tile.video.srcObject = stream;
      stream.addEventListener('removetrack', function () {
        if (tiles[tile.id] !== tile || tile.stream !== stream) return;
        if (stream.getTracks().length > 0) { renderTile(tile); return; }
        if (tile.kind === 'screen' || !roster[tile.peer]) { removeTile(tile.id); return; }
        tile.stream = null;
        tile.video.srcObject = null;
        renderTile(tile);
      });
      stream.addEventListener('addtrack', function () { if (tiles[tile.id] === tile) renderTile(tile); });
      var p = tile.video.play();
      if (p && p.catch) p.catch(function () { /* autoplay refused: shown muted until a click */ });
      renderTile(tile);
    }

    function removeTile(id) {
      var tile = tiles[id];
      if (!tile) return;
      delete tiles[id];
      tile.video.srcObject = null;
      tile.fig.remove();
      renderStage();
    }

    // syncTiles follows the roster: a tile for every other peer, none for
    // those who left.
    function syncTiles() {
      Object.keys(roster).forEach(function (id) {
        if (id !== sig.peerId) ensureTile(id);
      });
      Object.keys(tiles).forEach(function (id) {
        var tile = tiles[id];
        var p = roster[tile.peer];
        if (!p || (tile.kind === 'screen' && p.screen === false && !hasLiveVideo(tile))) removeTile(id);
        else renderTile(tile);
      });
      renderStage();
    }

    function hasLiveVideo(tile) {
      return !!tile.stream && tile.stream.getVideoTracks().some(function (tr) { return tr.readyState === 'live'; });
    }

    function peerName(peerId) {
      var p = roster[peerId];
      return p && p.name ? p.name : '…';
    }

    function renderTile(tile) {
      var p = roster[tile.peer] || {};
      var n = peerName(tile.peer);
      var label = tile.kind === 'screen' ? env.t('screenOf', { name: n }) : n;
      if (tile.kind !== 'screen' && p.role === 'advisor') label += ' (' + env.t('advisorRole') + ')';
      tile.name.textContent = label;
      tile.fig.setAttribute('aria-label', label);
      tile.avatar.textContent = initials(n);
      var camOff = tile.kind === 'camera' && (p.video === false || !tile.stream || tile.stream.getVideoTracks().length === 0);
      tile.fig.classList.toggle('no-video', camOff);
      var badges = [];
      if (tile.kind === 'camera' && p.audio === false) badges.push(env.t('micOffBadge'));
      if (camOff) badges.push(env.t('camOffBadge'));
      tile.badges.textContent = badges.join(' · ');
    }

    function renderStage() {
      var n = Object.keys(tiles).length;
      el.stage.dataset.count = String(n);
      el.stageEmpty.hidden = n > 0;
    }

    function initials(name) {
      var parts = String(name).trim().split(/\s+/).filter(Boolean);
      var s = parts.length ? Array.from(parts[0])[0] : '';
      if (parts.length > 1) s += Array.from(parts[parts.length - 1])[0];
      return s.toUpperCase();
    }

    // ---- chat and files: the meeting's timeline ----

    var chat = {
      entries: {},   // entry id -> {entry, li}
      pending: []    // [{nonce, text, li}] sent but not echoed yet
    };
    var chatErrorKey = '';

    function nonce() {
      if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
      var b = new Uint8Array(16);
      crypto.getRandomValues(b);
      return Array.prototype.map.call(b, function (x) { return ('0' + x.toString(16)).slice(-2); }).join('');
    }

    function onChatSubmit(ev) {
      ev.preventDefault();
      var text = el.chatInput.value.replace(/[\u0000-\u0008\u000b-\u001f]/g, '').trim();
      if (!text) return;
      if (Array.from(text).length > MAX_CHAT) { showChatError('chatTooLong'); return; }
      showChatError('');
      var p = { nonce: nonce(), text: text, li: null };
      p.li = chatItem({ name: env.t('you'), text: text, sent: new Date(), own: true, pending: true });
      chat.pending.push(p);
      el.chatList.appendChild(p.li);
      renderChatList();
      el.chatInput.value = '';
      send({ type: 'chat', text: text, nonce: p.nonce });
    }

    function resendChats() {
      chat.pending.forEach(function (p) { send({ type: 'chat', text: p.text, nonce: p.nonce }); });
    }

    function showChatError(key) {
      chatErrorKey = key;
      el.chatError.textContent = key ? env.t(key) : '';
      el.chatError.hidden = !key;
    }

    function addEntry(e) {
      if (typeof e.seq === 'number' && e.seq > sig.lastSeq) sig.lastSeq = e.seq;
      if (!e.id || chat.entries[e.id]) return;
      var own = !!env.participantId() && e.from === env.participantId();
      var li;
      if (e.file_name) {
        li = fileItem(e, own);
      } else {
        li = chatItem({ name: own ? env.t('you') : e.name, text: e.text || '', sent: new Date(e.sent), own: own, role: e.role });
      }
      li.dataset.entry = e.id;
      li.dataset.seq = String(e.seq || 0);
      chat.entries[e.id] = { entry: e, li: li, own: own };
      // Our own message comes back: it replaces the pending line.
      if (own && e.nonce) {
        for (var i = 0; i < chat.pending.length; i++) {
          if (chat.pending[i].nonce === e.nonce) {
            chat.pending[i].li.remove();
            chat.pending.splice(i, 1);
            break;
          }
        }
      }
      // Keep the timeline's order; pending lines stay at the end.
      var before = null;
      var items = el.chatList.children;
      for (var j = 0; j < items.length; j++) {
        var s = items[j].dataset.seq;
        if (s === undefined || Number(s) > (e.seq || 0)) { before = items[j]; break; }
      }
      el.chatList.insertBefore(li, before);
      renderChatList();
    }

    function renderChatList() {
      el.chatEmpty.hidden = el.chatList.children.length > 0;
      el.chatList.scrollTop = el.chatList.scrollHeight;
    }

    function timeText(d) {
      try {
        return new Intl.DateTimeFormat(env.lang(), { hour: '2-digit', minute: '2-digit' }).format(d);
      } catch (e) {
        return '';
      }
    }

    function head(name, sent, role) {
      var h = document.createElement('p');
      h.className = 'entry-head';
      var who = document.createElement('span');
      who.className = 'entry-name';
      who.textContent = name + (role === 'advisor' ? ' (' + env.t('advisorRole') + ')' : '');
      var time = document.createElement('time');
      if (!isNaN(sent.getTime())) {
        time.dateTime = sent.toISOString();
        time.textContent = timeText(sent);
      }
      h.appendChild(who);
      h.appendChild(document.createTextNode(' '));
      h.appendChild(time);
      return h;
    }

    function chatItem(c) {
      var li = document.createElement('li');
      li.className = 'entry chat' + (c.own ? ' own' : '');
      li.dataset.kind = 'chat';
      li.appendChild(head(c.name, c.sent, c.role));
      var body = document.createElement('p');
      body.className = 'entry-text';
      body.textContent = c.text;
      li.appendChild(body);
      if (c.pending) {
        var s = document.createElement('span');
        s.className = 'entry-pending';
        s.dataset.t = 'chatSending';
        s.textContent = env.t('chatSending');
        li.appendChild(s);
      }
      return li;
    }

    function formatSize(n) {
      var units = ['B', 'KB', 'MB', 'GB'];
      var i = 0;
      var v = n;
      while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
      var num;
      try {
        num = new Intl.NumberFormat(env.lang(), { maximumFractionDigits: i === 0 ? 0 : 1 }).format(v);
      } catch (e) {
        num = String(Math.round(v));
      }
      return num + '\u00a0' + units[i];
    }

    function fileItem(e, own) {
      var li = document.createElement('li');
      li.className = 'entry file' + (own ? ' own' : '');
      li.dataset.kind = 'file';
      li.appendChild(head(own ? env.t('you') : e.name, new Date(e.sent), e.role));
      var row = document.createElement('div');
      row.className = 'file-row';
      var info = document.createElement('p');
      info.className = 'file-info';
      var fname = document.createElement('span');
      fname.className = 'file-name';
      fname.textContent = e.file_name;
      var size = document.createElement('span');
      size.className = 'file-size';
      size.textContent = formatSize(e.file_size || 0);
      info.appendChild(fname);
      info.appendChild(document.createTextNode(' '));
      info.appendChild(size);
      var btn = document.createElement('button');
      btn.type = 'button';
      btn.className = 'secondary small file-download';
      btn.dataset.t = 'fileDownload';
      btn.dataset.ta = 'fileDownloadOf';
      btn.dataset.name = e.file_name;
      btn.textContent = env.t('fileDownload');
      btn.setAttribute('aria-label', env.t('fileDownloadOf', { name: e.file_name }));
      row.appendChild(info);
      row.appendChild(btn);
      li.appendChild(row);
      var prog = document.createElement('progress');
      prog.className = 'file-progress';
      prog.max = 1;
      prog.hidden = true;
      prog.setAttribute('aria-label', e.file_name);
      var state = document.createElement('p');
      state.className = 'file-state';
      state.setAttribute('role', 'status');
      li.appendChild(prog);
      li.appendChild(state);
      btn.addEventListener('click', function () { download(e, btn, prog, state); });
      return li;
    }

    function setState(node, key) {
      if (key) node.dataset.t = key; else delete node.dataset.t;
      node.textContent = key ? env.t(key) : '';
      node.classList.toggle('error', key === 'fileDownloadFailed');
    }

    // download fetches a file with progress and saves it from memory.
    function download(e, btn, prog, state) {
      btn.disabled = true;
      prog.hidden = false;
      prog.removeAttribute('value');
      setState(state, 'fileDownloading');
      fetch('/api/v1/participant/files/' + encodeURIComponent(e.id), {
        headers: { 'Authorization': 'Bearer ' + env.secret() },
        cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer'
      }).then(function (res) {
        if (!res.ok) throw new Error('status ' + res.status);
        var total = Number(res.headers.get('Content-Length')) || e.file_size || 0;
        if (!res.body || !res.body.getReader) return res.blob();
        var reader = res.body.getReader();
        var chunks = [];
        var got = 0;
        function pump() {
          return reader.read().then(function (r) {
            if (r.done) return new Blob(chunks, { type: res.headers.get('Content-Type') || e.file_type || 'application/octet-stream' });
            chunks.push(r.value);
            got += r.value.length;
            if (total > 0) prog.value = Math.min(got / total, 1);
            return pump();
          });
        }
        return pump();
      }).then(function (blob) {
        prog.value = 1;
        save(blob, e.file_name);
        setState(state, 'fileDownloaded');
      }).catch(function () {
        prog.hidden = true;
        setState(state, 'fileDownloadFailed');
      }).then(function () {
        btn.disabled = false;
      });
    }

    function save(blob, name) {
      var url = URL.createObjectURL(blob);
      var a = document.createElement('a');
      a.href = url;
      a.download = name;
      a.hidden = true;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
    }

    var upload = { xhr: null, name: '', error: null };

    function onFileChosen() {
      var f = el.fileInput.files && el.fileInput.files[0];
      el.fileInput.value = '';
      if (!f || upload.xhr) return;
      upload.error = null;
      if (f.size === 0) { upload.error = { key: 'fileEmpty', params: { name: f.name } }; renderUpload(); return; }
      var xhr = new XMLHttpRequest();
      upload.xhr = xhr;
      upload.name = f.name;
      xhr.open('POST', '/api/v1/participant/files?name=' + encodeURIComponent(f.name));
      xhr.setRequestHeader('Authorization', 'Bearer ' + env.secret());
      xhr.setRequestHeader('Accept', 'application/json');
      xhr.upload.onprogress = function (ev) {
        if (ev.lengthComputable) el.uploadProgress.value = ev.loaded / ev.total;
      };
      xhr.onload = function () {
        upload.xhr = null;
        if (xhr.status < 200 || xhr.status > 299) upload.error = uploadError(xhr, f.name);
        renderUpload();
      };
      xhr.onerror = function () {
        upload.xhr = null;
        upload.error = { key: 'fileOffline', params: { name: f.name } };
        renderUpload();
      };
      xhr.onabort = function () {
        upload.xhr = null;
        renderUpload();
      };
      el.uploadProgress.value = 0;
      xhr.send(f);
      renderUpload();
    }

    function uploadError(xhr, name) {
      var body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
      var err = body && body.error ? body.error : {};
      var code = err.code || '';
      if (xhr.status === 413 || /too_large|too_big/.test(code)) return { key: 'fileTooLarge', params: { name: name } };
      if (xhr.status === 415 || /type/.test(code)) return { key: 'fileTypeNotAllowed', params: { name: name } };
      if (code === 'meeting_quota_exceeded') return { key: 'fileQuota' };
      if (xhr.status === 429) return { key: 'rateLimited' };
      return { key: 'fileFailed', params: { name: name, message: err.message || '' } };
    }

    function renderUpload() {
      var busy = !!upload.xhr;
      el.upload.hidden = !busy;
      el.fileButton.disabled = busy;
      if (busy) el.uploadText.textContent = env.t('fileUploading', { name: upload.name });
      el.fileError.textContent = upload.error ? env.t(upload.error.key, upload.error.params) : '';
      el.fileError.hidden = !upload.error;
    }

    // ---- rendering ----

    function connState() {
      if (!sig.ws || (!sig.open && sig.attempts > 0)) return 'reconnecting';
      if (!sig.open || !pc) return 'connecting';
      var s = pc.connectionState;
      if (s === 'connected') return 'connected';
      if (s === 'disconnected' || s === 'failed') return 'unstable';
      return 'connecting';
    }

    var CONN_TEXT = { connected: 'connConnected', connecting: 'connConnecting', reconnecting: 'connReconnecting', unstable: 'connUnstable' };
    var DEV_TEXT = { asking: 'devAsking', denied: 'devDenied', none: 'devNone', nocam: 'devNoCam', nomic: 'devNoMic', busy: 'devBusy', unsupported: 'devUnsupported' };

    function render() {
      // Set-up.
      fillSelect(el.camSelect, dev.cams, dev.camId, 'cameraN');
      fillSelect(el.micSelect, dev.mics, dev.micId, 'micN');
      el.camOn.checked = dev.wantCam;
      el.micOn.checked = dev.wantMic;
      el.camOn.disabled = dev.busy;
      el.micOn.disabled = dev.busy;
      el.previewOff.hidden = !!dev.cam;
      // Without any usable device the lists would be empty: the message
      // says what to do instead.
      el.setupFields.hidden = dev.cams.length === 0 && dev.mics.length === 0 && !dev.mic && !dev.cam &&
        dev.status !== '' && dev.status !== 'asking';
      el.preview.hidden = !dev.cam;
      var devKey = DEV_TEXT[dev.status] || '';
      var devText = devKey ? env.t(devKey) : '';
      if (el.devMsg.textContent !== devText) el.devMsg.textContent = devText;
      el.devMsg.hidden = !devText;
      el.devMsg.classList.toggle('problem', dev.status !== 'asking');
      el.devRetry.hidden = !(dev.status === 'denied' || dev.status === 'busy' || dev.status === 'none');

      // Call.
      var cs = connState();
      el.indicator.dataset.state = cs;
      var ct = env.t(CONN_TEXT[cs]);
      if (el.indicatorText.textContent !== ct) el.indicatorText.textContent = ct;
      var micLive = !!(dev.mic && dev.wantMic);
      el.btnMic.textContent = env.t(micLive ? 'mute' : 'unmute');
      el.btnMic.dataset.on = String(micLive);
      el.btnCam.textContent = env.t(dev.cam ? 'camOff' : 'camOn');
      el.btnCam.dataset.on = String(!!dev.cam);
      el.btnMic.disabled = dev.busy;
      el.btnCam.disabled = dev.busy;
      var canShare = !!(navigator.mediaDevices && navigator.mediaDevices.getDisplayMedia);
      el.btnScreen.hidden = !canShare;
      el.btnScreen.textContent = env.t(screen.track ? 'stopShare' : 'shareScreen');
      el.btnScreen.dataset.on = String(!!screen.track);
      el.sharing.hidden = !screen.track;
      el.callMsg.textContent = screen.error ? env.t('shareFailed') : '';
      el.callMsg.hidden = !screen.error;
      el.selfTile.classList.toggle('no-video', !dev.cam);
      el.selfAvatar.textContent = roster[sig.peerId] ? initials(roster[sig.peerId].name) : '';
      var selfBadges = [];
      if (!micLive) selfBadges.push(env.t('micOffBadge'));
      if (!dev.cam) selfBadges.push(env.t('camOffBadge'));
      el.selfBadges.textContent = selfBadges.join(' · ');
      Object.keys(tiles).forEach(function (id) { renderTile(tiles[id]); });
      renderStage();

      // Timeline: times follow the language.
      el.chatList.querySelectorAll('time').forEach(function (tm) {
        if (tm.dateTime) tm.textContent = timeText(new Date(tm.dateTime));
      });
      el.chatList.querySelectorAll('.entry.own .entry-name').forEach(function (n) { n.textContent = env.t('you'); });
      el.chatList.querySelectorAll('[data-ta="fileDownloadOf"]').forEach(function (b) {
        b.setAttribute('aria-label', env.t('fileDownloadOf', { name: b.dataset.name }));
      });
      showChatError(chatErrorKey);
      renderUpload();
      if (board) board.render();
      renderRecording();
    }

    // ---- wiring ----

    el.camSelect.addEventListener('change', function () { chooseDevice('video', el.camSelect.value); });
    el.micSelect.addEventListener('change', function () { chooseDevice('audio', el.micSelect.value); });
    el.camOn.addEventListener('change', function () { setCam(el.camOn.checked); });
    el.micOn.addEventListener('change', function () { setMic(el.micOn.checked); });
    el.devRetry.addEventListener('click', function () { dev.status = ''; acquire(); });
    el.btnMic.addEventListener('click', function () { setMic(!(dev.mic && dev.wantMic)); });
    el.btnCam.addEventListener('click', function () { setCam(!dev.cam); });
    el.btnScreen.addEventListener('click', function () { if (screen.track) stopShare(); else startShare(); });
    el.chatForm.addEventListener('submit', onChatSubmit);
    el.fileButton.addEventListener('click', function () { el.fileInput.click(); });
    el.fileInput.addEventListener('change', onFileChosen);
    el.uploadCancel.addEventListener('click', function () { if (upload.xhr) upload.xhr.abort(); });
    el.recAccept.addEventListener('click', function () { answerRecording('accept'); });
    el.recRefuse.addEventListener('click', function () { answerRecording('refuse'); });
    el.recWithdraw.addEventListener('click', function () { answerRecording('withdraw'); });
    if (navigator.mediaDevices && navigator.mediaDevices.addEventListener) {
      navigator.mediaDevices.addEventListener('devicechange', function () { enumerate().then(render); });
    }

    // ---- the controller ----

    // prepare opens camera and microphone for the preview (once).
    function prepare() {
      if (dev.started) return;
      dev.started = true;
      acquire();
    }

    // join starts the call: devices (if not yet), then signalling.
    function join() {
      prepare();
      if (sig.active) return;
      sig.active = true;
      sig.attempts = 0;
      connect();
    }

    // leave tells the relay and ends the call.
    function leave() {
      if (sig.active) send({ type: 'leave' });
      stop();
    }

    // stop ends the call and releases camera, microphone and screen.
    function stop() {
      sig.active = false;
      clearTimeout(sig.retryTimer);
      clearInterval(sig.pingTimer);
      var ws = sig.ws;
      sig.ws = null;
      sig.open = false;
      if (ws) { try { ws.close(1000); } catch (e) { /* closed */ } }
      closePeer();
      stopShare();
      ['audio', 'video'].forEach(dropTrack);
      dev.started = false;
      dev.status = '';
      if (upload.xhr) upload.xhr.abort();
      if (board) board.reset();
      rec.seq = 0;
      rec.st = null;
      rec.failed = false;
      render();
    }

    if (window.parleyTestHooks) {
      // Only when a test asked for them before the page loaded.
      window.parleyTest = {
        dropSignal: function () { if (sig.ws) sig.ws.close(); },
        // The screen-share track, to end it as the browser's own button does.
        screenTrack: function () { return screen.track; },
        peerId: function () { return sig.peerId; },
        lastSeq: function () { return sig.lastSeq; },
        board: board ? board.test : null,
        // The recording state last received (relay's RecordingState).
        recording: function () { return rec.st; }
      };
    }

    render();
    return { prepare: prepare, join: join, leave: leave, stop: stop, render: render };
  }

  window.ParleyCall = { TEXTS: TEXTS, create: create };
})();
