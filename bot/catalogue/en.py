"""English: the reference catalogue; every key the bot uses is here."""

MESSAGES: dict[str, str] = {
    # access
    "not_allowed": "Sorry, this bot is private. Ask its operator to add your Telegram id {user_id}.",
    "invite_needed": "This bot needs an invite code: send /start CODE with the code you were given.",
    "invite_wrong": "That invite code is not valid. Check it with whoever gave it to you.",
    "invite_ok": "Welcome, your invite code is accepted.",
    # commands
    "start": (
        "Hello! I turn a video of you talking into a digital twin: an avatar that says any text or voice message "
        "you send, with your face and lip-sync.\n\n"
        "Record one video:\n"
        "• 1 to 5 minutes of you talking naturally\n"
        "• head and shoulders in the frame, facing the camera\n"
        "• even light on your face, no window behind you\n"
        "• a quiet room, no music\n"
        "• only your face in the picture\n\n"
        "Then send /new and the video (as a video, a video note or an mp4/mov/mkv/webm file). Before I store it, I show "
        "you what I keep of you and ask you to agree (/privacy). /help lists everything."
    ),
    "help": (
        "/new [name]: start a new avatar\n"
        "/avatars: your avatars and where each one is\n"
        "/status: what your current avatar is doing\n"
        "/cancel: stop what is waiting or running for your current avatar\n"
        "/delete: delete your current avatar and everything of it\n"
        "/privacy: what I keep of you, why, and how to delete it\n"
        "/web: a link to the web app, for a video too big to send here, and your avatar's progress\n"
        "/language: change the language (English / 中文)\n"
        "/help: this list\n\n"
        "Send a video to check it; once your avatar is live, send text or a voice message to hear it speak."
    ),
    "created": "New avatar “{name}”. Now send the video of you talking (1 to 5 minutes).",
    "created_for_upload": "I started a new avatar “{name}” for this video.",
    "default_name": "My avatar",
    "no_avatars": "You have no avatar yet: send /new to start one.",
    "avatars_title": "Your avatars (the current one is marked ▶):",
    "avatar_line": "{mark} {name}: {state}",
    "use_button": "Use {name}",
    "now_current": "Your current avatar is now {name}.",
    "state_new": "waiting for a video",
    "state_stage": "{stage} {state}",
    "status_title": "{name}:",
    "status_line": "• {stage}: {state}{progress}",
    "status_nothing": "{name} is waiting for a video.",
    "cancelled_input": "OK, forgotten.",
    "cancel_ask": (
        "Stop {stages} for {name}? What these steps have done so far is lost and they do not continue by themselves: "
        "to make {name} later, you send your video again."
    ),
    "cancel_yes": "Stop",
    "cancel_no": "Keep going",
    "cancel_kept": "Nothing was stopped.",
    "cancelled_runs": "Stopping: {stages}.",
    "nothing_to_cancel": "Nothing is waiting or running for {name}.",
    "delete_ask": (
        "Delete {name} and everything of it: your videos, the trained model, the previews and its whole history? "
        "This cannot be undone."
    ),
    "delete_yes": "Delete everything",
    "delete_no": "Keep it",
    "delete_kept": "Nothing was deleted.",
    "menu_new": "Start a new avatar",
    "menu_avatars": "Your avatars and where each one is",
    "menu_status": "What your avatar is doing",
    "menu_cancel": "Stop what is waiting or running",
    "menu_delete": "Delete your avatar and all its data",
    "menu_privacy": "What is kept of you, and deleting it",
    "menu_web": "The web app: send a big video, see the progress",
    "menu_language": "Change the language: English / 中文",
    "menu_help": "Everything this bot can do",
    # language
    "language_ask": "Choose your language:",
    "language_set": "OK, I will talk to you in English from now on.",
    "language_name_en": "English",
    "language_name_zh": "中文",
    # privacy
    "privacy": (
        "What I keep of you, and why:\n"
        "• the videos you send, and what is measured from them (where your face is, its outline, your voice): "
        "to train your avatar\n"
        "• your avatar: its trained model, its previews and the videos it makes, to show them to you and make new ones "
        "when you ask\n"
        "• your Telegram id and language, to know which avatars are yours\n\n"
        "Your face and voice are biometric data. They train your own avatar only, never anyone else's, and only you "
        "(and the operator who runs this bot) can use it. It all stays on this service's own storage.\n"
        "{retention}\n"
        "/delete removes an avatar and everything of it, at once and for good."
    ),
    "privacy_retention_days": "An avatar left unused for {days} days is deleted with all its data.",
    "privacy_retention_none": "Nothing is deleted until you delete it.",
    "privacy_ask_video": "Before I store a video of your face and voice, please read this and agree. Your video waits until you do.",
    "privacy_latest_waits": "Got it: I keep only your latest video until you agree (the “I agree” button above).",
    "privacy_ask_plain": "Please read this and agree before you send your video.",
    "privacy_agree": "I agree",
    "privacy_thanks": "Thank you.",
    "privacy_agreed_on": "You agreed to this on {date}.",
    "delete_undeploying": "{name} is live: stopping it first, then deleting everything…",
    "deleted": "{name} and all its data are deleted.",
    "delete_later": "{name} is still finishing a step, so nothing was deleted yet. Send /delete again in a minute.",
    "run_state_pending": "pending",
    "run_state_queued": "waiting in the queue",
    "run_state_running": "running",
    "run_state_waiting_for_user": "waiting for you",
    "run_state_succeeded": "done",
    "run_state_failed": "failed",
    "run_state_cancelled": "cancelled",
    # upload
    "again_ask": "{name} is already being made from your earlier video. Make {name} again from this new one, or start a new avatar with it?",
    "again_ask_live": (
        "{name} is live. Make {name} again from this new video (the live one keeps answering until you approve and deploy the "
        "new one), or start a new avatar with it?"
    ),
    "again_yes": "Make {name} again",
    "again_new": "Start a new avatar",
    "again_keep": "Keep {name} as it is",
    "again_kept": "Nothing changed, and the new video was not stored.",
    "again_nothing_waits": "That video was already dealt with. Send it again if you want to use it.",
    "received": "Received your video ({size}). Sending it for the check…",
    "submitted": "Stored as version {version} of {name}. The check starts now.",
    "not_a_video": (
        "I can only take a video: send it as a video, a video note, or a file ending in .mp4, .mov, .mkv or .webm. "
        "“{name}” is not one of those."
    ),
    "too_big": (
        "This video is {size}, and Telegram only lets bots fetch files up to {limit}. Send /web for a link to the "
        "web app, which takes it as it is; or send a shorter or more compressed video (1 to 2 minutes at 720p is "
        "plenty)."
    ),
    "upload_failed": "I could not store your video: {reason}",
    # progress
    "stage_queued": "{stage}: waiting for a free machine…",
    "stage_position": "{stage}: waiting for a free machine… you are {position} of {of} in the queue",
    "stage_running": "{stage}: started",
    "stage_progress": "{stage}\n{bar} {percent}%{eta}\n{message}",
    "eta": " · about {eta} left",
    "stage_succeeded": "{stage}: done ✓",
    "stage_failed": "{stage}: failed ✗",
    "stage_cancelled": "{stage}: cancelled",
    "stage_error": "{stage} failed: {message}\nWhat to do: {advice}",
    "flow_blocked": "The work stopped after {stage}: {message}\nWhat to do: {advice}",
    "artifact_quarantined": "{stage}: {message}\nWhat to do: {advice}",
    "loss_chart": "{stage}: how the training error falls (iteration {step}; lower is better)",
    # intake report
    "intake_strip": "Frames from your video (version {version}): this is what the check looked at.",
    "report_pass": "Your video passed the check:",
    "report_fail": "Your video did not pass the check:",
    "report_line": "{mark} {name}: {value}",
    "report_advice": "   → {advice}",
    "report_next_fail": "Please record a new video with the advice above and send it: it becomes the next version.",
    "report_next_pass": "Next: preparing your video for training.",
    # review
    "preview": "Your avatar is ready for review:\n{words}\n\nDoes it look right?",
    "voice_preview": "Your avatar with another voice ({voice}): this is how it speaks text and other people's recordings.",
    "below_limits": "The last training did not reach its limits:\n{words}\nTell me what is wrong so it is retrained.",
    "approve": "Approve ✓",
    "reject": "Reject ✗",
    "reject_ask": "What is wrong?",
    "reason_lips_off": "Lips are off",
    "reason_blurry_mouth": "Mouth is blurry",
    "reason_jitter": "It jitters",
    "reason_wrong_clip": "Wrong clip",
    "reason_other": "Something else",
    "other_ask": "In a few words, what is wrong? (/cancel to stop)",
    "reject_back": "↩ Back",
    "reject_back_ask": "Does it look right?",
    "rejected_lips_off": "Thanks. I am training the lips again to follow the voice more closely. You will get a new preview to check when it is ready.",
    "rejected_blurry_mouth": "Thanks. I am training the mouth's detail longer to make it sharper. You will get a new preview to check when it is ready.",
    "rejected_jitter": "Thanks. I am smoothing the mouth's movement and training it longer. You will get a new preview to check when it is ready.",
    "rejected_wrong_clip": "Thanks, noted. Send /web to pick another clip in the app: your avatar is then made again with it.",
    "rejected_other": (
        "Thanks. Your words go to the operator, the person who looks after this service. They will answer you here: either your "
        "avatar is trained again with a fix, or the preview comes back for you to approve or reject. Nothing changes until then."
    ),
    "adjustment_lips_off": "the lips are trained again to follow the voice more closely",
    "adjustment_blurry_mouth": "the mouth's detail is trained longer, to make it sharper",
    "adjustment_jitter": "the mouth's movement is smoothed and trained longer",
    "adjustment_wrong_clip": "you pick another clip, and your avatar is made again with it",
    "adjustment_other": "your words went to the operator, who answers you in the chat",
    "adjustment_other_retrained": "the operator answered your words in the chat, and your avatar is trained again",
    "operator_retrained": (
        "The operator read what you said about {name} (“{text}”) and answered:\n{answer}\n\n"
        "I am training it again with that change; you will get a new preview to check when it is ready."
    ),
    "operator_answered": "The operator read what you said about {name} (“{text}”) and answered:\n{answer}",
    "operator_reopened": "The operator read what you said about {name} (“{text}”) and answered:\n{answer}\n\nThe preview is back for you to decide:",
    "review_reminder": "{name} is waiting for you: its preview is ready, and nothing goes on until you say whether it looks right. Approve it, or tell me what is wrong.",
    "review_reminder_below": "{name} is waiting for you: its last test fell short, and it is trained again once you tell me what looks wrong.",
    "reminder_open_review": "Open the review",
    "approved": "Approved ✓ Your avatar can now go live.",
    "approved_elsewhere": "{by} approved your avatar.",
    "rejected_elsewhere": "{by} sent your avatar back: {adjustment}",
    "deploy": "Deploy 🚀",
    "deploy_started": "Building your avatar's service… I will tell you when it is live.",
    "live": "Your avatar is live! Send me any text or a voice message and it will say it in a video.",
    "undeployed": "Your avatar is no longer live.",
    # picking the materials
    "pick_intro": (
        "Your video is measured. Pick the clip your avatar replays while it speaks (calm, head steady, mouth closed) "
        "and the picture that stands for it. The ones marked ★ are my picks; press a button to use another."
    ),
    "pick_again": (
        "Thanks, noted. Pick the clip your avatar should replay instead (and the picture that stands for it, if you like): "
        "your avatar is then made again with it."
    ),
    "driving_caption": "Clip {clip}: {seconds:.1f} s{chosen}\n{reason}",
    "cover_caption": "Cover {cover}{chosen}\n{reason}",
    "chosen_mark": " ★",
    "use_clip": "Use this clip",
    "use_cover": "Use this cover",
    # the cut-out
    "cutout_preview": (
        "Your cut-out, version {version}{words}. Keep what belongs to you, remove what does not, key out a colour "
        "of the background left around you; or send a photo to put it behind you:"
    ),
    "keep_region": "Keep {region}",
    "remove_region": "Remove {region}",
    "key_colour": "{swatch} Key out {hex}",
    "despill_less": "Despill less",
    "despill_more": "Despill more",
    "undo": "Undo ↩",
    "editing": "Making version {version}…",
    "background_editing": "Got your picture: putting it behind you as version {version}…",
    "background_ask": (
        "Put this picture behind you in {name}? {name} is already being trained: this makes a new version of your "
        "cut-out, with this picture behind you, for you to review."
    ),
    "background_yes": "Put it behind me",
    "background_no": "No, keep it as it is",
    "background_kept": "Nothing changed, and the picture was not stored.",
    "background_nothing_waits": "That picture was already dealt with. Send it again if you want to use it.",
    "background_not_now": (
        "I take a picture as your new background once your cut-out is shown for review. Send /status to see "
        "where your avatar is."
    ),
    "not_an_image": "“{name}” is not a picture I can use: send a photo, or a JPEG, PNG or WebP file.",
    "image_too_big": "This picture is {size}; a background can be at most {limit}. Send it as a photo instead (Telegram makes it smaller).",
    "background_upload_failed": "I could not store your picture: {reason}",
    # speaking
    "rendering": "Your avatar is speaking…",
    "rendered": "{seconds:.1f} s of video",
    "rendered_text": (
        "{seconds:.1f} s of video. The voice is {voice} reading your text, not yours: send a voice "
        "message and your avatar speaks it in your own voice."
    ),
    "voice_name_en": "a computer's English voice",
    "voice_name_zh": "a computer's Chinese voice",
    "not_live": "Your avatar is not live yet ({reason}). Send a video first, or /status to see where it is.",
    "not_live_no_address": "no address",
    "no_voice_text": "Send text or a voice message once your avatar is live; /help lists what I do.",
    "render_failed": "I could not make this video; {reason}",
    # buttons
    "button_expired": "This button has expired. Send /avatars to start again.",
    "button_not_yours": "This button was meant for someone else, so I ignored it.",
    "button_used": "You already pressed a button on this message: what it did is in the chat.",
    "button_stale_review": "This preview no longer waits for your answer: it was answered already, or a newer one came. Use the newest message.",
    "button_stale_clips": "These clips were replaced by a newer choice: use the newest ones.",
    "button_stale_cutout": "This cut-out has a newer version: use the buttons under the newest preview.",
    "host_error": "That did not work: {reason}",
    "host_down": "The platform is not answering right now; please try again in a minute.",
    # stage names (a stage without one is shown by its id)
    "stage_name_video_analysis": "Checking your video",
    "stage_name_preprocess": "Preparing your video",
    "stage_name_image_packaging": "Building your avatar's service",
    "stage_name_deployment": "Starting your avatar's service",
    "stage_name_quality_eval": "Testing your avatar",
    "stage_name_material_extraction": "Choosing clips and covers",
    "stage_name_cutout": "Cutting you out of the background",
    "stage_name_interactive_edit": "Editing the materials",
    # the web app (bot/webapp): its timeline's steps, and the login link
    "webapp_step_check": "Checking your video",
    "webapp_step_prepare": "Preparing your video",
    "webapp_step_materials": "Choosing clips and covers",
    "webapp_step_cutout": "Cutting you out of the background",
    "webapp_step_training": "Training your avatar",
    "webapp_step_testing": "Testing your avatar",
    "webapp_step_live": "Going live",
    "webapp_step_of": "Step {step} of {of}: {name}",
    "webapp_step_failed": "Step {step} of {of}, {name}, did not work out. The chat says why and what to do; a new video starts again.",
    "webapp_check_not_done": "The check did not finish ({state}).",
    "webapp_login": "Your login link for the web app (it works once, for {minutes} minutes, and only for you: do not share it):\n{url}",
    "webapp_open": "Open the app",
    "webapp_close": "You can close this; we will message you when there is something to decide.",
    "webapp_no_avatar": "You have no avatar yet: send your video on the upload page to start one.",
    "webapp_not_yours": "This avatar is not one of yours.",
    "webapp_not_yours_advice": "open the app again from the bot: it shows your own avatar",
    "webapp_eta_step": "About {minutes} left for this step.",
    "webapp_eta_minutes": "{count} minutes",
    "webapp_eta_minute": "1 minute",
    "webapp_eta_soon": "Less than a minute left for this step.",
    "webapp_queue": "You are {position} of {of} in the queue for a free machine.",
    # the web app's page itself (bot/webapp/static): filled in by the server, the script's words from the same keys
    "page_title": "Your digital twin",
    "page_tab_upload": "Upload",
    "page_tab_progress": "Progress",
    "page_tab_materials": "Clips",
    "page_tab_review": "Review",
    "page_tab_talk": "Talk",
    "page_upload_title": "Send your video",
    "page_upload_intro": "Record one video of yourself talking. Before you press record:",
    "page_check_length": "1 to 5 minutes of you talking naturally",
    "page_check_framing": "head and shoulders in the frame, facing the camera",
    "page_check_light": "even light on your face, no window behind you",
    "page_check_quiet": "a quiet room, no music",
    "page_check_alone": "only your face in the picture",
    "page_example_label": "For example:",
    "page_example": (
        "prop the phone up at eye level, sit facing a lamp or a window, and read a page of a book aloud for two minutes, "
        "looking into the camera."
    ),
    "page_consent_title": "Before your video is stored",
    "page_choice_new": "Start a new avatar with it",
    "page_choice_title": "{name} is already being made from your earlier video. What should this video do?",
    "page_choice_again": "Make {name} again from it",
    "page_choose_file": "Choose your video",
    "page_send": "Send",
    "page_limit": "Up to {limit}. The upload goes on where it stopped if your connection drops.",
    "page_connection_lost": "Connection lost, trying again…",
    "page_checking": "Stored as version {version}. Checking your video: {state}…",
    "page_sent_of": "{done} of {size} ({percent}%)",
    "page_seconds_left": "about {count} s left",
    "page_minutes_left": "about {count} min left",
    "page_upload_stopped": "the upload stopped",
    "page_upload_stopped_advice": "check your connection and press Send again: it goes on where it stopped",
    "page_connection_drops": "the connection keeps dropping",
    "page_connection_drops_advice": "press Send again when you are back online: it goes on where it stopped",
    "page_sentence_join": ". ",
    "page_sentence_end": ".",
    "page_name_value_join": ": ",
    "page_your_avatar": "Your avatar",
    "page_no_avatar": "You have no avatar yet: send your video on the Upload page to start one.",
    "page_materials_title": "Clips and covers",
    "page_media_failed": "a video could not be loaded",
    "page_try_again": "try again",
    "page_review_details": "Details: what the test measured",
    "page_approve": "Approve",
    "page_reject": "Reject",
    "page_go_live": "Go live",
    "page_talk_ask": "What should your avatar say?",
    "page_talk_speak": "Speak",
    "page_talk_speaking": "Your avatar is speaking… this takes a little while.",
    "page_talk_no_video": "the video did not come back",
    "page_talk_no_video_advice": "check your connection and press Speak again",
    "page_talk_download": "Download the video",
    # the web app's review page
    "webapp_review_none": "There is nothing to review yet. Once your avatar is trained and tested, it shows up here for you to check.",
    "webapp_review_waiting": "Your avatar is ready. Watch it beside your own recording: does it look right?",
    "webapp_review_below": "The last training did not come out well enough to go live. Tell us what is wrong so it is trained again.",
    "webapp_review_approved": "You approved this avatar.",
    "webapp_review_rejected": "You asked for changes: {adjustment}",
    "webapp_recording": "Your real recording of the same moment (silent)",
    "webapp_render": "Your avatar, with your own voice",
    "webapp_deploy_ready": "You approved it: it can go live now.",
    "webapp_deploy_no_round": "It can go live once it is trained, tested and approved by you.",
    "webapp_deploy_waiting": "It can go live once you approve it.",
    "webapp_deploy_below": "It can go live once a training passes the test and you approve it.",
    "webapp_deploy_rejected": "It can go live once the changes you asked for are trained, tested and approved by you.",
    "webapp_live_now": "Your avatar is live: open Talk to make it say something.",
    "webapp_other_ask": "In a few words, what is wrong?",
    "webapp_reject_text_needed": "say in a few words what is wrong",
    "webapp_unknown_reason": "“{reason}” is not one of the reasons offered",
    "webapp_pick_reason": "choose one of: lips are off, mouth is blurry, it jitters, wrong clip, something else",
    "webapp_already_judged": "This round was already judged.",
    "webapp_newer_round": "A newer training has started since this round was tested.",
    "webapp_not_passed": "This round did not pass the test, so it cannot be approved.",
    "webapp_too_many_rejections": "This avatar was sent back for changes as often as allowed.",
    "webapp_too_many_rejections_advice": "approve the newest round, or record a new video and send it",
    "webapp_wait_for_new_round": "wait for the next round: it shows up here, and the bot messages you",
    "webapp_not_ready_to_deploy": "This avatar cannot go live yet.",
    # the web app's materials page
    "webapp_materials_none": "The clips and covers are proposed once your video is prepared. They show up here.",
    "webapp_materials_intro": (
        "Pick the clip your avatar replays while it speaks (calm, head steady, mouth closed) and the picture that stands for it. "
        "The ones marked ★ are picked now."
    ),
    "webapp_no_candidate": "This clip or cover is not among the ones proposed.",
    "webapp_no_candidate_advice": "choose one of the clips and covers shown",
    # the web app's talk page
    "webapp_talk_voice": (
        "Typed text is read by {voice}, not yours. A voice message sent to the bot in the chat is "
        "spoken in your own voice."
    ),
    "webapp_talk_not_live": "Your avatar is not live yet. Once you approve it and it goes live, you can make it talk here.",
    "webapp_talk_not_live_advice": "open Review: once you approve your avatar, Deploy makes it live",
    "webapp_talk_empty": "there is no text to say",
    "webapp_talk_type": "type what your avatar should say",
    "webapp_talk_too_long": "the text is {count} characters; at most {limit} fit in one video",
    "webapp_talk_shorter": "say it in shorter parts",
    "webapp_render_down": "Your avatar's service is not answering right now.",
    "webapp_render_down_advice": "try again in a minute; if it keeps failing, ask the operator to start it again",
    "webapp_unknown_video": "This video is not here any more (videos are kept for a day).",
    "webapp_unknown_video_advice": "make it again on the Talk page",
    "webapp_not_your_video": "This video belongs to someone else.",
    # the web app's cut-out editor (bot/webapp/cutout.py); its page words are page_cutout_*
    "cutout_none": "Your cut-out shows up here once it is made: after the clips and covers are proposed, you are cut out of the background.",
    "cutout_intro": "Tap or brush on the picture to mend your cut-out. Every change makes a new version; Undo and Redo move between them.",
    "cutout_version": "Version {version}: {words}",
    "cutout_op_cutout": "the first cut-out",
    "cutout_op_key": "keyed out {colours}",
    "cutout_op_keep_brush": "kept a brushed area",
    "cutout_op_remove_brush": "removed a brushed area",
    "cutout_op_keep_region": "kept a region",
    "cutout_op_remove_region": "removed a region",
    "cutout_op_keep_spot": "kept a spot",
    "cutout_op_remove_spot": "removed a spot",
    "cutout_op_spots": "corrected {count} spots",
    "cutout_op_despill": "spill removal at {percent}%",
    "cutout_op_colour": "the colour {colour} behind you",
    "cutout_op_picture": "a picture behind you",
    "cutout_op_recorded": "the recorded background",
    "cutout_op_trim": "the clip trimmed",
    "cutout_op_choose": "another clip or cover",
    "cutout_op_revert": "as version {version} was",
    "cutout_op_other": "an edit",
    "cutout_busy_words": "Making version {version}… {percent}%",
    "cutout_failed": "The last change did not work out, so the picture stays as it was. Try it again, or another way.",
    "cutout_none_advice": "wait until your cut-out shows up on this page",
    "cutout_busy": "your last change is still being made",
    "cutout_busy_advice": "wait until it is done, then go on",
    "cutout_bad_point": "that spot is not on the picture",
    "cutout_bad_point_advice": "tap on the picture",
    "cutout_bad_stroke": "that brush stroke is not on the picture",
    "cutout_bad_stroke_advice": "brush over the picture",
    "cutout_unknown_tool": "“{tool}” is not one of the tools",
    "cutout_unknown_tool_advice": "choose Keep, Remove or Key out colour, the spill removal or a background",
    "cutout_bad_strength": "the spill removal goes from 0 to 100%",
    "cutout_bad_strength_advice": "move the slider",
    "cutout_bad_colour": "“{colour}” is not a colour",
    "cutout_bad_colour_advice": "pick a colour",
    "cutout_not_a_picture": "this file is not a picture that can be used",
    "cutout_not_a_picture_advice": "choose a JPEG, PNG or WebP picture",
    "cutout_picture_too_big": "a background picture can be at most {limit}",
    "cutout_picture_too_big_advice": "choose a smaller picture",
    "cutout_unknown_version": "there is no version {version}",
    "cutout_unknown_version_advice": "choose one of the versions listed",
    "cutout_no_version": "it does not say which version to go back to",
    "cutout_no_version_advice": "choose one of the versions listed",
    "page_cutout_title": "Your cut-out",
    "page_cutout_keep": "Keep",
    "page_cutout_remove": "Remove",
    "page_cutout_key": "Key out colour",
    "page_cutout_hint_keep": "Tap or brush over what belongs to you.",
    "page_cutout_hint_remove": "Tap or brush over what should go.",
    "page_cutout_hint_key": "Tap a colour of the background to take it out everywhere.",
    "page_cutout_picture_alt": "You, cut out",
    "page_cutout_original_alt": "The picture as recorded",
    "page_cutout_before": "Before",
    "page_cutout_after": "After",
    "page_cutout_compare": "Compare before and after",
    "page_cutout_despill": "Spill removal (the background's colour on your edges)",
    "page_cutout_percent": "{percent}%",
    "page_cutout_background": "Background",
    "page_cutout_colour": "Colour",
    "page_cutout_picture": "Picture…",
    "page_cutout_recorded": "As recorded",
    "page_cutout_undo": "↶ Undo",
    "page_cutout_redo": "Redo ↷",
    "page_cutout_versions": "Versions",
    "page_cutout_shown": "shown",
    "page_cutout_go_back": "Go back to this",
    "page_cutout_sending": "Sending your picture…",
    "page_cutout_asking": "Sending your change…",
}
