"""简体中文: every key of en.py, with the same placeholders (tests/unit/test_catalogue.py holds them
to it), written as plain words a person reads, not as a translation of engineering terms."""

MESSAGES: dict[str, str] = {
    # access
    "not_allowed": "抱歉，这个机器人不对外开放。请让管理员把你的 Telegram 编号 {user_id} 加进来。",
    "invite_needed": "使用这个机器人需要邀请码：请发送 /start 加上你拿到的邀请码，例如 /start CODE。",
    "invite_wrong": "这个邀请码不对。请和给你邀请码的人确认一下。",
    "invite_ok": "欢迎！你的邀请码已通过。",
    # commands
    "start": (
        "你好！我能把一段你说话的视频变成你的数字分身：一个会用你的脸、口型对得上地说出你发来的任何文字或语音的形象。\n\n"
        "请录一段视频：\n"
        "• 自然地说话 1 到 5 分钟\n"
        "• 画面里有头和肩膀，面对镜头\n"
        "• 脸上光线均匀，身后不要有窗户\n"
        "• 安静的房间，不放音乐\n"
        "• 画面里只有你一个人的脸\n\n"
        "然后发送 /new 和这段视频（可以是视频、圆形视频消息，或 mp4/mov/mkv/webm 文件）。保存之前，我会告诉你我会保留你的哪些信息，"
        "并请你同意（/privacy）。/help 可以看到全部功能。"
    ),
    "help": (
        "/new [名字]：新建一个分身\n"
        "/avatars：你的分身，以及每个做到哪一步了\n"
        "/status：你当前的分身正在做什么\n"
        "/cancel：停下当前分身正在排队或进行的步骤\n"
        "/delete：删除当前的分身和它的全部数据\n"
        "/privacy：我保留你的哪些信息、为什么，以及怎样删除\n"
        "/web：网页版的链接，可以上传太大发不了的视频，也能看分身的进度\n"
        "/language：切换语言（English / 中文）\n"
        "/help：这份列表\n\n"
        "发一段视频，我来检查；分身上线后，发文字或语音，它就会说给你听。"
    ),
    "created": "新分身“{name}”已建好。现在请发一段你说话的视频（1 到 5 分钟）。",
    "created_for_upload": "我为这段视频新建了一个分身“{name}”。",
    "default_name": "我的分身",
    "no_avatars": "你还没有分身：发送 /new 新建一个。",
    "avatars_title": "你的分身（▶ 是当前这个）：",
    "avatar_line": "{mark} {name}：{state}",
    "use_button": "用 {name}",
    "now_current": "你当前的分身换成了 {name}。",
    "state_new": "在等你的视频",
    "state_stage": "{stage}：{state}",
    "status_title": "{name}：",
    "status_line": "• {stage}：{state}{progress}",
    "status_nothing": "{name}在等你的视频。",
    "cancelled_input": "好的，这件事不用管了。",
    "cancel_ask": (
        "要停下 {name} 的{stages}吗？这些步骤已经做好的部分会丢掉，也不会自己继续："
        "以后想再做 {name}，需要重新发一次视频。"
    ),
    "cancel_yes": "停下",
    "cancel_no": "继续做",
    "cancel_kept": "什么都没有停。",
    "cancelled_runs": "正在停下：{stages}。",
    "nothing_to_cancel": "{name} 现在没有排队或进行中的步骤。",
    "delete_ask": (
        "要删除 {name} 和它的一切吗：你的视频、训练好的模型、预览和全部记录？"
        "删除后无法恢复。"
    ),
    "delete_yes": "全部删除",
    "delete_no": "保留",
    "delete_kept": "什么都没有删除。",
    "menu_new": "新建一个分身",
    "menu_avatars": "你的分身，以及每个做到哪一步了",
    "menu_status": "你的分身正在做什么",
    "menu_cancel": "停下正在排队或进行的步骤",
    "menu_delete": "删除你的分身和它的全部数据",
    "menu_privacy": "保留了你的哪些信息，以及怎样删除",
    "menu_web": "网页版：上传大视频，查看进度",
    "menu_language": "切换语言：English / 中文",
    "menu_help": "这个机器人能做的一切",
    # language
    "language_ask": "请选择语言：",
    "language_set": "好的，以后我都用中文和你说话。",
    "language_name_en": "English",
    "language_name_zh": "中文",
    # privacy
    "privacy": (
        "我保留你的哪些信息，以及为什么：\n"
        "• 你发来的视频，以及从中测量出的内容（你的脸在哪里、脸的轮廓、你的声音）：用来训练你的分身\n"
        "• 你的分身：训练好的模型、预览和它做出的视频，用来给你看，并在你需要时做新的视频\n"
        "• 你的 Telegram 编号和语言，用来知道哪些分身是你的\n\n"
        "你的脸和声音属于生物特征信息。它们只用来训练你自己的分身，绝不会用于别人的分身，只有你"
        "（以及运行这个机器人的管理员）能使用它。所有数据都只存放在本服务自己的存储里。\n"
        "{retention}\n"
        "/delete 可以立刻、永久地删除一个分身和它的一切。"
    ),
    "privacy_retention_days": "一个分身如果 {days} 天没有用，会连同它的全部数据一起删除。",
    "privacy_retention_none": "在你自己删除之前，什么都不会被删除。",
    "privacy_ask_video": "在我保存一段有你的脸和声音的视频之前，请先读一下这段说明并同意。你的视频会一直等到你同意。",
    "privacy_latest_waits": "收到：在你同意之前，我只保留你最新发来的那段视频（点上面的“我同意”）。",
    "privacy_ask_plain": "发视频之前，请先读一下这段说明并同意。",
    "privacy_agree": "我同意",
    "privacy_thanks": "谢谢你。",
    "privacy_agreed_on": "你在 {date} 同意了这段说明。",
    "delete_undeploying": "{name} 正在上线中：先让它下线，再删除全部数据……",
    "deleted": "{name} 和它的全部数据已删除。",
    "delete_later": "{name} 还有一个步骤在收尾，所以暂时什么都没删。请过一分钟再发一次 /delete。",
    "run_state_pending": "还没开始",
    "run_state_queued": "正在排队",
    "run_state_running": "进行中",
    "run_state_waiting_for_user": "在等你",
    "run_state_succeeded": "完成",
    "run_state_failed": "没有成功",
    "run_state_cancelled": "已停下",
    # upload
    "again_ask": "{name} 已经在用你之前的视频制作了。要用这段新视频重新做 {name}，还是用它新建一个分身？",
    "again_ask_live": (
        "{name} 已经上线。要用这段新视频重新做 {name}（在你确认并上线新的之前，现在这个会一直照常回答），"
        "还是用它新建一个分身？"
    ),
    "again_yes": "重新做 {name}",
    "again_new": "新建一个分身",
    "again_keep": "{name} 保持不变",
    "again_kept": "什么都没变，新视频也没有保存。",
    "again_nothing_waits": "那段视频已经处理过了。如果还想用，请再发一次。",
    "received": "收到你的视频（{size}）。正在送去检查……",
    "submitted": "已保存为 {name} 的第 {version} 版。现在开始检查。",
    "not_a_video": (
        "我只能接收视频：请以视频、圆形视频消息，或以 .mp4、.mov、.mkv、.webm 结尾的文件发送。"
        "“{name}”不是这几种。"
    ),
    "too_big": (
        "这段视频有 {size}，而 Telegram 只让机器人取 {limit} 以内的文件。发送 /web 获取网页版链接，"
        "在那里可以原样上传；或者发一段更短、压缩过的视频（720p 录 1 到 2 分钟就足够了）。"
    ),
    "upload_failed": "你的视频没能保存：{reason}",
    # progress
    "stage_queued": "{stage}：在等空闲的机器……",
    "stage_position": "{stage}：在等空闲的机器……你排在第 {position} 位，共 {of} 位",
    "stage_running": "{stage}：开始了",
    "stage_progress": "{stage}\n{bar} {percent}%{eta}\n{message}",
    "eta": " · 大约还要 {eta}",
    "stage_succeeded": "{stage}：完成 ✓",
    "stage_failed": "{stage}：没有成功 ✗",
    "stage_cancelled": "{stage}：已停下",
    "stage_error": "{stage}没有成功：{message}\n怎么办：{advice}",
    "flow_blocked": "做到{stage}之后停下了：{message}\n怎么办：{advice}",
    "artifact_quarantined": "{stage}：{message}\n怎么办：{advice}",
    "loss_chart": "{stage}：训练误差的下降情况（第 {step} 轮，越低越好）",
    # intake report
    "intake_strip": "你的视频里的几帧画面（第 {version} 版）：检查看的就是这些。",
    "report_pass": "你的视频通过了检查：",
    "report_fail": "你的视频没有通过检查：",
    "report_line": "{mark} {name}：{value}",
    "report_advice": "   → {advice}",
    "report_next_fail": "请按上面的建议重新录一段视频发给我：它会成为下一版。",
    "report_next_pass": "下一步：为训练准备你的视频。",
    # review
    "preview": "你的分身可以看了：\n{words}\n\n看起来对吗？",
    "voice_preview": "你的分身换了一个声音（{voice}）：读文字和别人的录音时就是这样。",
    "below_limits": "最近一次训练没有达到要求：\n{words}\n告诉我哪里不对，好重新训练。",
    "approve": "满意 ✓",
    "reject": "不满意 ✗",
    "reject_ask": "哪里不对？",
    "reason_lips_off": "口型对不上",
    "reason_blurry_mouth": "嘴巴模糊",
    "reason_jitter": "画面抖动",
    "reason_wrong_clip": "片段选得不对",
    "reason_other": "其他问题",
    "other_ask": "用几句话说说哪里不对？（发送 /cancel 可以取消）",
    "reject_back": "↩ 返回",
    "reject_back_ask": "看起来对吗？",
    "rejected_lips_off": "谢谢。我会重新训练口型，让它更紧地跟上声音。准备好后，你会收到新的预览来检查。",
    "rejected_blurry_mouth": "谢谢。我会把嘴部的细节训练得更久，让它更清晰。准备好后，你会收到新的预览来检查。",
    "rejected_jitter": "谢谢。我会让嘴的动作更平滑，并训练得更久一些。准备好后，你会收到新的预览来检查。",
    "rejected_wrong_clip": "谢谢，记下了。发送 /web，在应用里另选一段片段：之后会用它重新制作你的分身。",
    "rejected_other": (
        "谢谢。你的话会转给运营者，也就是照看这项服务的人。他们会在这里回复你：要么带着修正重新训练你的分身，"
        "要么把预览交还给你，由你确认或退回。在那之前，什么都不会改变。"
    ),
    "operator_retrained": "运营者看了你对 {name} 说的话（“{text}”），回复如下：\n{answer}\n\n我会按这个修改重新训练它；准备好后，你会收到新的预览来检查。",
    "operator_reopened": "运营者看了你对 {name} 说的话（“{text}”），回复如下：\n{answer}\n\n预览交还给你了，请你决定：",
    "review_reminder": "{name} 在等你：它的预览已经好了，你说它对不对之前，制作不会继续。请确认它，或者告诉我哪里不对。",
    "review_reminder_below": "{name} 在等你：它最近一次测试没有达到要求，你告诉我哪里看起来不对之后，就会重新训练。",
    "reminder_open_review": "打开预览",
    "approved": "已确认 ✓ 你的分身现在可以上线了。",
    "approved_elsewhere": "{by} 确认了你的分身。",
    "rejected_elsewhere": "{by} 退回了你的分身：{adjustment}",
    "deploy": "上线 🚀",
    "deploy_started": "正在搭建你的分身服务……上线后我会告诉你。",
    "live": "你的分身上线了！发给我任何文字或语音，它都会在视频里说出来。",
    "undeployed": "你的分身已经下线了。",
    # picking the materials
    "pick_intro": (
        "你的视频测量好了。请选一段分身说话时反复播放的片段（平静、头不乱动、嘴巴闭着），"
        "再选一张代表它的封面。标 ★ 的是我的推荐；想换的话，点按钮就行。"
    ),
    "pick_again": (
        "谢谢，记下了。请另选一段分身要反复播放的片段（愿意的话，也可以换一张封面）："
        "之后会用它重新制作你的分身。"
    ),
    "driving_caption": "片段 {clip}：{seconds:.1f} 秒{chosen}\n{reason}",
    "cover_caption": "封面 {cover}{chosen}\n{reason}",
    "chosen_mark": " ★",
    "use_clip": "用这段",
    "use_cover": "用这张封面",
    # the cut-out
    "cutout_preview": (
        "你的抠像，第 {version} 版{words}。保留属于你的部分，去掉不属于你的，把你周围残留的背景颜色抠掉；"
        "也可以发一张照片，放在你身后当背景："
    ),
    "keep_region": "保留 {region}",
    "remove_region": "去掉 {region}",
    "key_colour": "{swatch} 抠掉 {hex}",
    "despill_less": "少去一点边缘色",
    "despill_more": "多去一点边缘色",
    "undo": "撤销 ↩",
    "editing": "正在做第 {version} 版……",
    "background_editing": "收到你的图片：正在把它放到你身后，做成第 {version} 版……",
    "background_ask": (
        "要把这张图片放到 {name} 里你的身后吗？{name} 已经在训练了：这会做出一版新的抠像，"
        "身后是这张图片，请你来看一下。"
    ),
    "background_yes": "放到我身后",
    "background_no": "不用，保持原样",
    "background_kept": "什么都没变，图片也没有保存。",
    "background_nothing_waits": "那张图片已经处理过了。如果还想用，请再发一次。",
    "background_not_now": "等你的抠像给你看过之后，我才能把图片换成你的新背景。发送 /status 看看你的分身做到哪一步了。",
    "not_an_image": "“{name}”不是我能用的图片：请发一张照片，或 JPEG、PNG、WebP 文件。",
    "image_too_big": "这张图片有 {size}，背景图最大只能 {limit}。请改成以照片发送（Telegram 会把它压小）。",
    "background_upload_failed": "你的图片没能保存：{reason}",
    # speaking
    "rendering": "你的分身正在说……",
    "rendered": "{seconds:.1f} 秒的视频",
    "rendered_text": (
        "{seconds:.1f} 秒的视频。读你文字的是{voice}，不是你的声音："
        "发一条语音，你的分身就会用你自己的声音说出来。"
    ),
    "voice_name_en": "电脑的英文声音",
    "voice_name_zh": "电脑的中文声音",
    "not_live": "你的分身还没上线（{reason}）。请先发视频，或发送 /status 看看它做到哪一步了。",
    "not_live_no_address": "还没有可以用的地址",
    "no_voice_text": "等你的分身上线后，发文字或语音给我；/help 可以看到我能做什么。",
    "render_failed": "这段视频没能做出来：{reason}",
    # buttons
    "button_expired": "这个按钮已经过期了。发送 /avatars 重新开始。",
    "button_not_yours": "这个按钮是给别人的，我就没有理会。",
    "button_used": "这条消息上的按钮已经按过了：结果就在聊天里。",
    "button_stale_review": "这个预览已经不用回答了：你已经答过，或者有了更新的预览。请用最新的那条消息。",
    "button_stale_clips": "这些片段已经被更新的一组取代了：请用最新的那些。",
    "button_stale_cutout": "这个抠像已经有了更新的版本：请用最新预览下面的按钮。",
    "host_error": "没有成功：{reason}",
    "host_down": "平台暂时没有回应，请过一分钟再试。",
    # stage names (a stage without one is shown by its id)
    "stage_name_video_analysis": "检查你的视频",
    "stage_name_preprocess": "准备你的视频",
    "stage_name_image_packaging": "搭建你的分身服务",
    "stage_name_deployment": "启动你的分身服务",
    "stage_name_quality_eval": "测试你的分身",
    "stage_name_material_extraction": "挑选片段和封面",
    "stage_name_cutout": "把你从背景里抠出来",
    "stage_name_interactive_edit": "修改素材",
    # the web app (bot/webapp): its timeline's steps, and the login link
    "webapp_step_check": "检查你的视频",
    "webapp_step_prepare": "准备你的视频",
    "webapp_step_materials": "挑选片段和封面",
    "webapp_step_cutout": "把你从背景里抠出来",
    "webapp_step_training": "训练你的分身",
    "webapp_step_testing": "测试你的分身",
    "webapp_step_live": "上线",
    "webapp_step_of": "第 {step} 步，共 {of} 步：{name}",
    "webapp_step_failed": "第 {step} 步（共 {of} 步）“{name}”没有成功。聊天里说明了原因和该怎么做；发一段新视频就能重新开始。",
    "webapp_check_not_done": "检查没有做完（{state}）。",
    "webapp_login": "这是你的网页版登录链接（只能用一次，{minutes} 分钟内有效，只给你一个人用：请不要分享）：\n{url}",
    "webapp_open": "打开应用",
    "webapp_close": "你可以关掉这个页面；有需要你决定的事，我们会发消息给你。",
    "webapp_no_avatar": "你还没有分身：在上传页面发送你的视频就能开始。",
    "webapp_not_yours": "这个分身不是你的。",
    "webapp_not_yours_advice": "从机器人里重新打开应用：那里显示的是你自己的分身",
    "webapp_eta_step": "这一步大约还要 {minutes}。",
    "webapp_eta_minutes": "{count} 分钟",
    "webapp_eta_minute": "1 分钟",
    "webapp_eta_soon": "这一步不到一分钟就好。",
    "webapp_queue": "你排在第 {position} 位（共 {of} 位），在等空闲的机器。",
    # the web app's page itself (bot/webapp/static): filled in by the server, the script's words from the same keys
    "page_title": "你的数字分身",
    "page_tab_upload": "上传",
    "page_tab_progress": "进度",
    "page_tab_materials": "片段",
    "page_tab_review": "检查",
    "page_tab_talk": "说话",
    "page_upload_title": "发送你的视频",
    "page_upload_intro": "录一段你自己说话的视频。开始录之前：",
    "page_check_length": "自然地说话 1 到 5 分钟",
    "page_check_framing": "画面里有头和肩膀，面对镜头",
    "page_check_light": "脸上光线均匀，身后不要有窗户",
    "page_check_quiet": "安静的房间，不放音乐",
    "page_check_alone": "画面里只有你一个人的脸",
    "page_example_label": "比如：",
    "page_example": "把手机架在和眼睛一样高的地方，面对台灯或窗户坐好，看着镜头朗读一页书，读两分钟。",
    "page_consent_title": "保存你的视频之前",
    "page_choice_new": "用它新建一个分身",
    "page_choice_title": "{name} 已经在用你之前的视频制作了。这段视频要用来做什么？",
    "page_choice_again": "用它重新做 {name}",
    "page_choose_file": "选择你的视频",
    "page_send": "发送",
    "page_limit": "最大 {limit}。网络断了也没关系，上传会从断开的地方接着传。",
    "page_connection_lost": "网络断了，正在重试……",
    "page_checking": "已保存为第 {version} 版。正在检查你的视频：{state}……",
    "page_sent_of": "已传 {done}，共 {size}（{percent}%）",
    "page_seconds_left": "大约还要 {count} 秒",
    "page_minutes_left": "大约还要 {count} 分钟",
    "page_upload_stopped": "上传停下了",
    "page_upload_stopped_advice": "请检查网络，再点一次“发送”：会从停下的地方接着传",
    "page_connection_drops": "网络一直在断",
    "page_connection_drops_advice": "等网络恢复后再点一次“发送”：会从停下的地方接着传",
    "page_sentence_join": "。",
    "page_sentence_end": "。",
    "page_name_value_join": "：",
    "page_your_avatar": "你的分身",
    "page_no_avatar": "你还没有分身：在“上传”页发送你的视频就能开始。",
    "page_materials_title": "片段和封面",
    "page_media_failed": "有一段视频没能加载",
    "page_try_again": "请再试一次",
    "page_review_details": "详细情况：测试量了什么",
    "page_approve": "满意",
    "page_reject": "不满意",
    "page_go_live": "上线",
    "page_talk_ask": "想让你的分身说什么？",
    "page_talk_speak": "说出来",
    "page_talk_speaking": "你的分身正在说……要稍等一会儿。",
    "page_talk_no_video": "视频没有传回来",
    "page_talk_no_video_advice": "请检查网络，再点一次“说出来”",
    "page_talk_download": "下载视频",
    # the web app's review page
    "webapp_review_none": "现在还没有可以看的内容。等你的分身训练和测试好，就会出现在这里给你检查。",
    "webapp_review_waiting": "你的分身做好了。和你自己的录像对比着看看：看起来对吗？",
    "webapp_review_below": "最近一次训练的效果还不够好，不能上线。告诉我们哪里不对，好重新训练。",
    "webapp_review_approved": "你已经确认了这个分身。",
    "webapp_review_rejected": "你要求了修改：{adjustment}",
    "webapp_recording": "你自己在同一时刻的真实录像（无声）",
    "webapp_render": "你的分身，用你自己的声音",
    "webapp_deploy_ready": "你已经确认了：现在就可以上线。",
    "webapp_deploy_no_round": "等它训练好、测试过并经你确认后，就可以上线。",
    "webapp_deploy_waiting": "等你确认后就可以上线。",
    "webapp_deploy_below": "等有一次训练通过测试并经你确认后，就可以上线。",
    "webapp_deploy_rejected": "等你要求的修改训练好、测试过并经你确认后，就可以上线。",
    "webapp_live_now": "你的分身已经上线：打开“说话”页，让它说点什么。",
    "webapp_other_ask": "用几句话说说哪里不对？",
    "webapp_reject_text_needed": "请用几句话说说哪里不对",
    "webapp_unknown_reason": "“{reason}”不是给出的理由之一",
    "webapp_pick_reason": "请从这些里选一个：口型对不上、嘴巴模糊、画面抖动、片段选得不对、其他问题",
    "webapp_already_judged": "这一轮已经评过了。",
    "webapp_newer_round": "这一轮测试之后，又开始了一次新的训练。",
    "webapp_not_passed": "这一轮没有通过测试，所以不能确认。",
    "webapp_too_many_rejections": "这个分身被退回修改的次数已经到上限了。",
    "webapp_too_many_rejections_advice": "请确认最新的一轮，或者重新录一段视频发过来",
    "webapp_wait_for_new_round": "请等下一轮：它会出现在这里，机器人也会发消息给你",
    "webapp_not_ready_to_deploy": "这个分身现在还不能上线。",
    # the web app's materials page
    "webapp_materials_none": "等你的视频准备好后，会推荐片段和封面，它们会出现在这里。",
    "webapp_materials_intro": "请选一段分身说话时反复播放的片段（平静、头不乱动、嘴巴闭着），再选一张代表它的封面。标 ★ 的是现在选中的。",
    "webapp_no_candidate": "这个片段或封面不在推荐的里面。",
    "webapp_no_candidate_advice": "请从显示的片段和封面里选",
    # the web app's talk page
    "webapp_talk_voice": "你打的字由{voice}来读，不是你的声音。在聊天里发给机器人的语音，会用你自己的声音说出来。",
    "webapp_talk_not_live": "你的分身还没上线。等你确认并让它上线后，就可以在这里让它说话。",
    "webapp_talk_not_live_advice": "打开“检查”页：确认你的分身后，点“上线”就能让它上线",
    "webapp_talk_empty": "没有要说的文字",
    "webapp_talk_type": "请输入你想让分身说的话",
    "webapp_talk_too_long": "这段文字有 {count} 个字；一段视频最多只能放 {limit} 个字",
    "webapp_talk_shorter": "请分成几段短一点的来说",
    "webapp_render_down": "你的分身服务暂时没有回应。",
    "webapp_render_down_advice": "请过一分钟再试；如果一直不行，请让管理员重新启动它",
    "webapp_unknown_video": "这段视频已经不在了（视频只保留一天）。",
    "webapp_unknown_video_advice": "在“说话”页再做一次",
    "webapp_not_your_video": "这段视频是别人的。",
    # the web app's cut-out editor (bot/webapp/cutout.py); its page words are page_cutout_*
    "cutout_none": "抠像做好后会出现在这里：推荐好片段和封面后，会把你从背景里抠出来。",
    "cutout_intro": "在图片上点一下或者涂抹，修整你的抠像。每次修改都会做出一个新版本；用“撤销”和“重做”在版本之间切换。",
    "cutout_version": "第 {version} 版：{words}",
    "cutout_op_cutout": "第一次抠像",
    "cutout_op_key": "抠掉了 {colours}",
    "cutout_op_keep_brush": "保留了涂抹的区域",
    "cutout_op_remove_brush": "去掉了涂抹的区域",
    "cutout_op_keep_region": "保留了一块区域",
    "cutout_op_remove_region": "去掉了一块区域",
    "cutout_op_keep_spot": "保留了一处",
    "cutout_op_remove_spot": "去掉了一处",
    "cutout_op_spots": "修正了 {count} 处",
    "cutout_op_despill": "边缘去色 {percent}%",
    "cutout_op_colour": "身后换成颜色 {colour}",
    "cutout_op_picture": "身后换成一张图片",
    "cutout_op_recorded": "用录制时的背景",
    "cutout_op_trim": "剪短了片段",
    "cutout_op_choose": "换了片段或封面",
    "cutout_op_revert": "回到第 {version} 版的样子",
    "cutout_op_other": "一次修改",
    "cutout_busy_words": "正在做第 {version} 版……{percent}%",
    "cutout_failed": "上一次修改没有成功，图片还是原来的样子。请再试一次，或者换个方法。",
    "cutout_none_advice": "请等抠像出现在这一页",
    "cutout_busy": "你上一次的修改还在进行中",
    "cutout_busy_advice": "请等它做完再继续",
    "cutout_bad_point": "这个位置不在图片上",
    "cutout_bad_point_advice": "请在图片上点",
    "cutout_bad_stroke": "这一笔不在图片上",
    "cutout_bad_stroke_advice": "请在图片上涂抹",
    "cutout_unknown_tool": "“{tool}”不是可用的工具",
    "cutout_unknown_tool_advice": "请选“保留”“去掉”或“抠掉颜色”，或者调边缘去色、换背景",
    "cutout_bad_strength": "边缘去色只能在 0 到 100% 之间",
    "cutout_bad_strength_advice": "请拖动滑块",
    "cutout_bad_colour": "“{colour}”不是一种颜色",
    "cutout_bad_colour_advice": "请选一种颜色",
    "cutout_not_a_picture": "这个文件不是能用的图片",
    "cutout_not_a_picture_advice": "请选一张 JPEG、PNG 或 WebP 图片",
    "cutout_picture_too_big": "背景图片最大 {limit}",
    "cutout_picture_too_big_advice": "请选一张小一点的图片",
    "cutout_unknown_version": "没有第 {version} 版",
    "cutout_unknown_version_advice": "请从列出的版本里选",
    "cutout_no_version": "没有说要回到哪一版",
    "cutout_no_version_advice": "请从列出的版本里选",
    "page_cutout_title": "你的抠像",
    "page_cutout_keep": "保留",
    "page_cutout_remove": "去掉",
    "page_cutout_key": "抠掉颜色",
    "page_cutout_hint_keep": "在属于你的部分上点一下或涂抹。",
    "page_cutout_hint_remove": "在要去掉的部分上点一下或涂抹。",
    "page_cutout_hint_key": "点一下背景里的某种颜色，把它在所有地方去掉。",
    "page_cutout_picture_alt": "抠出来的你",
    "page_cutout_original_alt": "录制时的画面",
    "page_cutout_before": "之前",
    "page_cutout_after": "之后",
    "page_cutout_compare": "对比之前和之后",
    "page_cutout_despill": "边缘去色（去掉你边缘上的背景颜色）",
    "page_cutout_percent": "{percent}%",
    "page_cutout_background": "背景",
    "page_cutout_colour": "颜色",
    "page_cutout_picture": "图片……",
    "page_cutout_recorded": "录制时的背景",
    "page_cutout_undo": "↶ 撤销",
    "page_cutout_redo": "重做 ↷",
    "page_cutout_versions": "版本",
    "page_cutout_shown": "正在显示",
    "page_cutout_go_back": "回到这一版",
    "page_cutout_sending": "正在发送你的图片……",
    "page_cutout_asking": "正在发送你的修改……",
}
